import { describe, expect, test } from 'vitest';
import type { DatabaseManager } from '../../src/index.js';
import { MODES, pool, seededFile, turn } from './support.js';

/**
 * docs/api.md, transaction(): a nested transaction is a savepoint, rolled back if its callback
 * throws. SQLite's savepoints are a stack on the connection, so the scopes on one connection take
 * turns: nested transactions opened in one callback run one after another (each savepoint with a
 * name of its own), a statement of that callback issued while one is open waits for it, and a
 * transaction commits or rolls back only after the nested ones it started have ended.
 *
 * Found by the hostile review: two nested transactions run with Promise.all shared the savepoint
 * stack, the first one's RELEASE released the second's savepoint too, and the second's rollback
 * then failed silently: the writes of the nested transaction that threw were committed.
 */

async function names(db: DatabaseManager): Promise<string[]> {
  return (await db.all<{ name: string }>('SELECT name FROM users ORDER BY id')).map((row) => row.name);
}

function insert(db: DatabaseManager, name: string): Promise<unknown> {
  return db.run('INSERT INTO users (name) VALUES (?)', [name]);
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

describe.each(MODES)('%s mode', (mode) => {
  test('a nested transaction that throws leaves no row, even when another nested one ran beside it', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    const outcomes = await db.transaction(() => {
      const first = db.transaction(() => insert(db, 'first-ok'));
      const second = db.transaction(async () => {
        await insert(db, 'second-fails');
        // Run beside each other, the first one's RELEASE would come while this savepoint is open.
        await first;
        throw new Error('second failed');
      });
      return Promise.allSettled([first, second]);
    });
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);
    expect(await names(db)).toEqual(['first-ok']);
  });

  test('the nested transactions of one callback run one after another, in the order they were opened', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    const events: string[] = [];
    const nested = (name: string) =>
      db.transaction(async () => {
        events.push(`${name} began`);
        await insert(db, name);
        await turn();
        events.push(`${name} ended`);
      });
    await db.transaction(() => Promise.all([nested('a'), nested('b'), nested('c')]));
    expect(events).toEqual(['a began', 'a ended', 'b began', 'b ended', 'c began', 'c ended']);
    expect(await names(db)).toEqual(['a', 'b', 'c']);
  });

  test('a statement the callback issues while a nested transaction is open is not rolled back with it', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    await db.transaction(async () => {
      const hold = signal();
      const nested = db.transaction(async () => {
        await insert(db, 'nested');
        await hold.promise;
        throw new Error('nested failed');
      });
      const outer = insert(db, 'outer');
      hold.fire();
      expect((await Promise.allSettled([nested, outer])).map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled']);
    });
    expect(await names(db)).toEqual(['outer']);
  });

  test('a transaction rolls back only after the nested ones it started have ended, and takes their writes with it', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    const lease = await db.getConnection();
    let secondEnded = false;
    const failure = new Error('first failed');
    const callbackSettled = signal();
    const transaction = lease.transaction(async () => {
      try {
        // Promise.all rejects with the first failure while the second nested transaction still runs.
        await Promise.all([
          lease.transaction(() => Promise.reject(failure)),
          lease.transaction(async () => {
            // Written once the callback around has given up: after its rollback, had it not waited.
            await callbackSettled.promise;
            await turn();
            await insert(db, 'second');
            secondEnded = true;
          }),
        ]);
      } finally {
        callbackSettled.fire();
      }
    });
    await expect(transaction).rejects.toBe(failure);
    expect(secondEnded).toBe(true);
    expect(lease.inTransaction).toBe(false);
    lease.release();
    expect(await names(db)).toEqual([]);
  });

  test('a nested transaction inside a nested one does not wait for its parent', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    await db.transaction(async () => {
      await insert(db, 'outer');
      await db
        .transaction(async () => {
          await db.transaction(() => insert(db, 'innermost'));
          throw new Error('middle failed');
        })
        .catch(() => undefined);
      await db.transaction(() => insert(db, 'after'));
    });
    expect(await names(db)).toEqual(['outer', 'after']);
  });

  test('transactions opened on one lease outside each other run one after another, each its own', async () => {
    const db = pool({ mode, filename: seededFile(0), poolSize: 2 });
    await using lease = await db.getConnection();
    // Had the second one become a savepoint inside the first, the first's rollback would take its row.
    const outcomes = await Promise.allSettled([
      lease.transaction(async () => {
        await lease.run("INSERT INTO users (name) VALUES ('first')");
        await turn();
        throw new Error('first failed');
      }),
      lease.transaction(() => lease.run("INSERT INTO users (name) VALUES ('second')")),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled']);
    expect(await lease.all('SELECT name FROM users')).toEqual([{ name: 'second' }]);
  });
});
