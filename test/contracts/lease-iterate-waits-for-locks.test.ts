import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { BusyTimeoutError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { trackDb } from '../helpers/temp-db.js';
import { MODES, pool, seededFile } from './support.js';

/**
 * README: "a statement that finds the database locked waits asynchronously ... and tries again";
 * "Every write ... goes through one write gate per pool, in order". `lease.iterate()` is a
 * statement like the others: a lock met at its first pull is waited out (and the statement run
 * again from the start, not read from the attempt that failed), and a writing iteration
 * (`INSERT ... RETURNING`) takes the write gate, in line with the pool's other writers, and keeps
 * it while its statement holds SQLite's write lock.
 *
 * In thread mode the first pull runs synchronously inside the first `next()`: by the time the
 * collecting promise exists, the attempt that met the lock has happened.
 */

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** A raw connection of the test's own (another connection, as another process would be) holding a lock. */
function lockedBy(filename: string, begin: string): Database.Database {
  const other = trackDb(new Database(filename));
  other.exec(begin);
  return other;
}

/** A pool transaction that holds the write gate until `commit()`. */
async function openTransaction(db: ReturnType<typeof pool>): Promise<{ commit: () => void; done: Promise<void> }> {
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => (commit = resolve));
  let begun!: () => void;
  const started = new Promise<void>((resolve) => (begun = resolve));
  const done = db.transaction(async (tx) => {
    await tx.run("INSERT INTO users (name) VALUES ('in-transaction')");
    begun();
    await committed;
  });
  await started;
  return { commit, done };
}

describe.each(MODES)('%s mode', (mode) => {
  test('a SELECT through lease.iterate() that meets an exclusive lock returns every row once it is gone', async () => {
    const filename = seededFile(3);
    const journal = new Database(filename);
    journal.pragma('journal_mode = DELETE');
    journal.close();
    const db = pool({ mode, filename, poolSize: 1, pragmas: { journal_mode: 'DELETE' } });
    await using lease = await db.getConnection();
    const other = lockedBy(filename, 'BEGIN EXCLUSIVE');
    const rows = collect(lease.iterate('SELECT id FROM users ORDER BY id'));
    other.exec('COMMIT');
    expect(await rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  test('an INSERT ... RETURNING through lease.iterate() that meets a write lock inserts its row once it is gone', async () => {
    const filename = seededFile(3);
    const db = pool({ mode, filename, poolSize: 1 });
    await using lease = await db.getConnection();
    const other = lockedBy(filename, 'BEGIN IMMEDIATE');
    const rows = collect(lease.iterate("INSERT INTO users (name) VALUES ('iterated') RETURNING id"));
    other.exec('COMMIT');
    expect(await rows).toEqual([{ id: 4 }]);
    expect(await lease.get("SELECT count(*) AS n FROM users WHERE name = 'iterated'")).toEqual({ n: 1 });
  });

  test('an INSERT ... RETURNING through lease.iterate() waits in line at the write gate', async () => {
    const db = pool({ mode, poolSize: 3 });
    const tx = await openTransaction(db); // row 4
    await using lease = await db.getConnection();
    const iterated = collect(lease.iterate<{ id: number }>("INSERT INTO users (name) VALUES ('iterated') RETURNING id"));
    const shortcut = db.get<{ id: number }>("INSERT INTO users (name) VALUES ('shortcut') RETURNING id");
    tx.commit();
    await tx.done;
    // In line: the iteration asked first, so it writes first.
    expect(await iterated).toEqual([{ id: 5 }]);
    expect(await shortcut).toEqual({ id: 6 });
  });

  test('a writing iteration keeps the write gate until it ends, though its lease reads meanwhile', async () => {
    const db = pool({ mode, poolSize: 2, busyTimeoutMs: 100 });
    await using lease = await db.getConnection();
    // One row per pull in both modes, so the statement (and SQLite's write lock) stays open.
    const iterator = lease.iterate<{ id: number }>("INSERT INTO users (name) VALUES ('a'), ('b') RETURNING id", undefined, { batchSize: 1 })[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ value: { id: 4 }, done: false });
    const other = db.run("INSERT INTO users (name) VALUES ('other')");
    expect(await lease.get('SELECT count(*) AS n FROM users')).toEqual({ n: 5 });
    // The other writer waited in line at the gate for all of busyTimeoutMs: its error has no
    // SQLITE_BUSY cause, as it would if the read had let the gate go and it had met the lock.
    const error = await captureRejection(other);
    expect(error).toBeInstanceOf(BusyTimeoutError);
    expect((error as BusyTimeoutError).cause).toBeUndefined();
    expect(await iterator.next()).toEqual({ value: { id: 5 }, done: false });
    expect((await iterator.next()).done).toBe(true);
    expect((await db.run("INSERT INTO users (name) VALUES ('after')")).changes).toBe(1);
  });
});
