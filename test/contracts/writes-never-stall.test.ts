import { describe, expect, test } from 'vitest';
import Database from 'better-sqlite3';
import { captureRejection } from '../helpers/capture-error.js';
import { MODES, pool, seededFile, turn } from './support.js';

/**
 * DESIGN.md §5: the event loop never waits on a SQLite lock. Every write goes through one write
 * gate that the transaction holding it can re-enter; a write that finds the gate or the file
 * locked waits asynchronously (other callbacks keep running) and then succeeds.
 */

/** Opens a write transaction that stays open until `commit()` is called. */
async function openTransaction(db: ReturnType<typeof pool>) {
  let commit!: () => void;
  const released = new Promise<void>((resolve) => (commit = resolve));
  let begun!: () => void;
  const started = new Promise<void>((resolve) => (begun = resolve));
  const done = db.transaction(async (tx) => {
    await tx.run('INSERT INTO users (name) VALUES (?)', ['in-transaction']);
    begun();
    await released;
  });
  await started;
  return { commit, done };
}

describe.each(MODES)('%s mode (defect 7)', (mode) => {
  test('INSERT ... RETURNING through db.get waits for an open transaction without blocking the event loop', async () => {
    const db = pool({ mode, poolSize: 3 });
    const tx = await openTransaction(db);
    const order: string[] = [];
    const inserted = db.get<{ id: number }>('INSERT INTO users (name) VALUES (?) RETURNING id', ['returning']).then((row) => {
      order.push('insert');
      return row;
    });
    await turn();
    await turn();
    order.push('event loop turned');
    tx.commit();
    await tx.done;
    expect(await inserted).toEqual({ id: 5 });
    expect(order).toEqual(['event loop turned', 'insert']);
  });

  test('a write through another lease waits for the open transaction, then succeeds', async () => {
    const db = pool({ mode, poolSize: 3 });
    const tx = await openTransaction(db);
    await using other = await db.getConnection();
    let finished = false;
    const write = other.run('UPDATE users SET name = ? WHERE id = 1', ['renamed']).then((result) => {
      finished = true;
      return result;
    });
    await turn();
    await turn();
    expect(finished).toBe(false);
    tx.commit();
    await tx.done;
    expect((await write).changes).toBe(1);
    expect(await db.get('SELECT name FROM users WHERE id = 1')).toEqual({ name: 'renamed' });
  });

  test('db.run() inside db.transaction() joins that transaction (and is rolled back with it)', async () => {
    const db = pool({ mode, poolSize: 2, acquireTimeoutMs: 2000 });
    await db.transaction(async () => {
      await db.run('INSERT INTO users (name) VALUES (?)', ['joined']);
      expect(await db.get('SELECT count(*) AS n FROM users WHERE name = ?', ['joined'])).toEqual({ n: 1 });
    });
    expect(await db.get('SELECT count(*) AS n FROM users WHERE name = ?', ['joined'])).toEqual({ n: 1 });
    await expect(
      db.transaction(async () => {
        await db.run('INSERT INTO users (name) VALUES (?)', ['rolled back']);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await db.get('SELECT count(*) AS n FROM users WHERE name = ?', ['rolled back'])).toEqual({ n: 0 });
    expect(db.getConnectionStatsSync().lifetime.timeouts).toBe(0);
  });

  test('two transactions at once both commit, one after the other', async () => {
    const db = pool({ mode, poolSize: 2 });
    await Promise.all(
      [1, 2].map((n) =>
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO users (name) VALUES (?)', [`tx${n}`]);
          await turn();
          await tx.run('INSERT INTO users (name) VALUES (?)', [`tx${n}b`]);
        }),
      ),
    );
    expect(await db.get("SELECT count(*) AS n FROM users WHERE name LIKE 'tx%'")).toEqual({ n: 4 });
  });

  test('a db.transaction() whose BEGIN gives up on a lock held by another process gives its connection back', async () => {
    const filename = seededFile();
    const db = pool({ mode, filename, poolSize: 1, busyTimeoutMs: 50 });
    await db.initialize();
    const locker = new Database(filename);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const error = await captureRejection(db.transaction((tx) => tx.run("INSERT INTO users (name) VALUES ('x')")));
      expect(error).toMatchObject({ code: 'SQLITE_BUSY' });
      expect(db.getConnectionStatsSync().usedConnections).toBe(0);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    // The one connection serves again (poolSize 1: a leaked lease would make this wait).
    await db.transaction((tx) => tx.run("INSERT INTO users (name) VALUES ('y')"));
    expect(await db.get("SELECT count(*) AS n FROM users WHERE name IN ('x', 'y')")).toEqual({ n: 1 });
  });
});
