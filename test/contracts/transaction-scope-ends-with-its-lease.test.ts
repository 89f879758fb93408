import { describe, expect, test } from 'vitest';
import { LeaseReleasedError, type DatabaseManager } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { MODES, pool, seededFile, turn } from './support.js';

/**
 * README: "A lease ends at release ... a transaction left open is rolled back"; docs/api.md: a
 * shortcut issued inside a transaction callback joins that transaction. So a shortcut the callback
 * issues after its lease was released (or taken back by close()) rejects with LeaseReleasedError,
 * like the lease's own methods: it never runs on another connection, outside the transaction.
 * Code the callback left running after the callback itself ended is outside the transaction, and
 * its shortcuts run as anywhere else.
 *
 * Found by the hostile review: the shortcut looked for a transaction to join only while its lease
 * lasted, and after release quietly ran in autocommit on another connection: the transaction was
 * rolled back, that write was committed.
 */

async function names(db: DatabaseManager): Promise<string[]> {
  return (await db.all<{ name: string }>('SELECT name FROM users ORDER BY id')).map((row) => row.name);
}

describe.each(MODES)('%s mode', (mode) => {
  test('nothing written inside a transaction callback survives the rollback at release', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    const lease = await db.getConnection();
    let released!: () => void;
    const afterRelease = new Promise<void>((resolve) => (released = resolve));
    let firstWritten!: () => void;
    const written = new Promise<void>((resolve) => (firstWritten = resolve));
    const errors: unknown[] = [];
    const transaction = lease.transaction(async () => {
      await db.run("INSERT INTO users (name) VALUES ('inside-1')"); // joins the transaction
      firstWritten();
      await afterRelease;
      errors.push(await captureRejection(db.run("INSERT INTO users (name) VALUES ('inside-2')")));
      errors.push(await captureRejection(db.get('SELECT count(*) AS n FROM users')));
      errors.push(await captureRejection(db.transaction(() => db.run("INSERT INTO users (name) VALUES ('nested')"))));
    });
    await written;
    lease.release();
    released();
    expect(await captureRejection(transaction)).toBeInstanceOf(LeaseReleasedError);
    expect(errors).toHaveLength(3);
    for (const error of errors) expect(error).toBeInstanceOf(LeaseReleasedError);
    expect(await names(db)).toEqual([]);
  });

  test('a shortcut left running by a transaction callback that has ended runs on its own', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    let later!: Promise<unknown>;
    await db.transaction(async () => {
      await db.run("INSERT INTO users (name) VALUES ('inside')");
      // Started inside the callback, run after it: the transaction (and its lease) is gone by then.
      later = turn().then(() => db.run("INSERT INTO users (name) VALUES ('later')"));
    });
    await later;
    expect(await names(db)).toEqual(['inside', 'later']);
  });
});
