/**
 * Found by the fault campaign: a write that queued behind another transaction for the pool's
 * write lock waited with no deadline, so `transaction(fn, { timeoutMs })` (and a `run()` or
 * `exec()` shortcut while a transaction was open) could wait far past its acquire timeout, or
 * forever behind a transaction that never ends. The wait for the lock now counts against the
 * acquire timeout and ends in `AcquireTimeoutError` (counted as a timeout), and `close()` rejects
 * writers still queued with `PoolClosedError`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { AcquireTimeoutError, DatabaseManager, PoolClosedError } from '../../src/index.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function pool(acquireTimeoutMs = 5000): DatabaseManager {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'write-lock-deadline-'));
  const db = new DatabaseManager({ filename: path.join(dir, 'test.db'), poolSize: 3, acquireTimeoutMs });
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => db.close({ timeoutMs: 0 }));
  return db;
}

/** Starts a transaction that holds the write lock until `release()` is called. */
async function holdWriteLock(db: DatabaseManager): Promise<{ release: () => void; done: Promise<unknown> }> {
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

/** What a promise settled with, or 'pending' if it had not settled after `ms`. */
function settleWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([
    promise.then((value) => ({ resolved: value }), (error: unknown) => error),
    new Promise((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);
}

describe('the write lock honours the acquire deadline', () => {
  test('transaction(fn, { timeoutMs }) behind a transaction that does not end rejects with AcquireTimeoutError', async () => {
    const db = pool();
    await db.exec('CREATE TABLE t (x)');
    const holder = await holdWriteLock(db);
    const startedAt = performance.now();
    const outcome = await settleWithin(db.transaction((lease) => lease.run('INSERT INTO t VALUES (1)'), { timeoutMs: 40 }), 3000);
    const elapsed = performance.now() - startedAt;
    expect(outcome).toBeInstanceOf(AcquireTimeoutError);
    expect((outcome as AcquireTimeoutError).message).toMatch(/waiting for the write lock/);
    expect(elapsed).toBeGreaterThanOrEqual(39);
    expect(db.getConnectionStatsSync().lifetime.timeouts).toBe(1);
    holder.release();
    await holder.done;
    // The lock is free again, and the timed-out write never ran.
    await db.transaction((lease) => lease.run('INSERT INTO t VALUES (2)'), { timeoutMs: 40 });
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 2 }]);
  });

  test('a run() shortcut queued behind a transaction times out after acquireTimeoutMs', async () => {
    const db = pool(40);
    await db.exec('CREATE TABLE t (x)');
    const holder = await holdWriteLock(db);
    const outcome = await settleWithin(db.run('INSERT INTO t VALUES (1)'), 3000);
    expect(outcome).toBeInstanceOf(AcquireTimeoutError);
    holder.release();
    await holder.done;
    expect(await db.all('SELECT x FROM t')).toEqual([]);
  });

  test('a writer that gets the lock late has only the rest of its timeout left for a connection', async () => {
    const db = pool();
    await db.exec('CREATE TABLE t (x)');
    const holder = await holdWriteLock(db);
    const write = db.transaction((lease) => lease.run('INSERT INTO t VALUES (1)'), { timeoutMs: 200 });
    // Let the writer queue behind the holder (one turn of the event loop, no timed wait).
    await new Promise((resolve) => setImmediate(resolve));
    holder.release();
    await holder.done;
    await expect(write).resolves.toBeDefined();
  });

  test('close() rejects writers queued for the lock with PoolClosedError', async () => {
    const db = pool();
    const holder = await holdWriteLock(db);
    const queued = db.transaction(() => undefined, { timeoutMs: 60_000 });
    const closing = db.close({ timeoutMs: 0 });
    const outcome = await settleWithin(queued, 3000);
    expect(outcome).toBeInstanceOf(PoolClosedError);
    holder.release();
    await holder.done.catch(() => undefined);
    await closing;
  });
});
