/**
 * First found by the fault campaign (v1): a write that queued behind another transaction for the
 * pool's write lock waited with no deadline. In v2 the wait for the write gate is part of the
 * statement's lock wait, which `busyTimeoutMs` bounds in all (gate, then SQLite's lock): past it
 * the write rejects with `BusyTimeoutError` (code `SQLITE_BUSY`) and never runs. `close()` rejects
 * writers still queued with `PoolClosedError`.
 */
import { describe, expect, test } from 'vitest';
import { BusyTimeoutError, DatabaseManager, PoolClosedError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { advance, tempDbPath, track, useFakeClock } from '../helpers/temp-db.js';

function pool(busyTimeoutMs = 5000): DatabaseManager {
  return track(new DatabaseManager({ filename: tempDbPath(), poolSize: 3, busyTimeoutMs }));
}

/** Starts a transaction that holds the write gate until `release()` is called. */
async function holdWriteGate(db: DatabaseManager): Promise<{ release: () => void; done: Promise<unknown> }> {
  let release!: () => void;
  let started!: () => void;
  const begun = new Promise<void>((resolve) => (started = resolve));
  const done = db.transaction(async () => {
    started();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await begun;
  return { release, done };
}

describe('the write gate honours busyTimeoutMs', () => {
  test('a transaction behind one that does not end rejects with BusyTimeoutError at busyTimeoutMs, and never runs', async () => {
    useFakeClock();
    const db = pool(40);
    await db.exec('CREATE TABLE t (x)');
    const holder = await holdWriteGate(db);
    let settled = false;
    const blocked = captureRejection(db.transaction((lease) => lease.run('INSERT INTO t VALUES (1)')).finally(() => (settled = true)));
    await advance(39);
    expect(settled).toBe(false);
    await advance(1);
    const error = await blocked;
    expect(error).toBeInstanceOf(BusyTimeoutError);
    expect(error).toMatchObject({ code: 'SQLITE_BUSY', timeoutMs: 40 });
    expect((error as Error).message).toMatch(/write lock, held by another connection of this pool/);
    expect(db.getConnectionStatsSync().lifetime.timeouts).toBe(0); // a lock wait, not an acquire timeout
    holder.release();
    await holder.done;
    // The gate is free again, and the timed-out write never ran.
    await db.transaction((lease) => lease.run('INSERT INTO t VALUES (2)'));
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 2 }]);
  });

  test('a run() shortcut queued behind a transaction times out the same way, and its connection goes back', async () => {
    useFakeClock();
    const db = pool(40);
    await db.exec('CREATE TABLE t (x)');
    const holder = await holdWriteGate(db);
    const blocked = captureRejection(db.run('INSERT INTO t VALUES (1)'));
    await advance(40);
    expect(await blocked).toBeInstanceOf(BusyTimeoutError);
    expect(db.getConnectionStatsSync().usedConnections).toBe(1); // only the holder's
    holder.release();
    await holder.done;
    expect(await db.all('SELECT x FROM t')).toEqual([]);
  });

  test('a writer that gets the gate before its deadline runs', async () => {
    useFakeClock();
    const db = pool(200);
    await db.exec('CREATE TABLE t (x)');
    const holder = await holdWriteGate(db);
    const write = db.transaction((lease) => lease.run('INSERT INTO t VALUES (1)'));
    await advance(150);
    holder.release();
    await holder.done;
    await expect(write).resolves.toMatchObject({ changes: 1 });
  });

  test('close() rejects writers queued for the gate with PoolClosedError', async () => {
    const db = pool(60_000);
    const holder = await holdWriteGate(db);
    const queued = captureRejection(db.transaction(() => undefined));
    await new Promise((resolve) => setImmediate(resolve)); // queued behind the holder
    const closing = db.close({ timeoutMs: 0 });
    expect(await queued).toBeInstanceOf(PoolClosedError);
    holder.release();
    await holder.done.catch(() => undefined);
    await closing;
  });
});
