import { describe, expect, test } from 'vitest';
import type { DatabaseManager } from '../../src/index.js';
import { MODES, pool, seededFile } from './support.js';

/**
 * docs/api.md, transaction(): "A shortcut (`db.run()`, `db.get()`...) issued inside fn joins this
 * transaction on its lease ... instead of waiting for the lock its own transaction holds." That
 * holds for each pool on its own: a transaction of another pool opened inside the callback (a main
 * database and an audit database, written together) does not hide this pool's transaction.
 *
 * Found by the hostile review: the scope held one transaction, so inside the audit transaction a
 * shortcut of the main pool took another connection and waited for the write lock its own outer
 * transaction held, until busyTimeoutMs, then failed with BusyTimeoutError.
 */

async function names(db: DatabaseManager): Promise<string[]> {
  return (await db.all<{ name: string }>('SELECT name FROM users ORDER BY id')).map((row) => row.name);
}

describe.each(MODES)('%s mode', (mode) => {
  test("a shortcut of the outer pool inside another pool's transaction still joins the outer transaction", async () => {
    const main = pool({ mode, filename: seededFile(0), poolSize: 2, busyTimeoutMs: 100 });
    const audit = pool({ mode, filename: seededFile(0), poolSize: 2, busyTimeoutMs: 100 });
    await main.transaction(async () => {
      await main.run("INSERT INTO users (name) VALUES ('order')");
      await audit.transaction(async () => {
        await audit.run("INSERT INTO users (name) VALUES ('audit')");
        await main.run("INSERT INTO users (name) VALUES ('order-line')");
        await main.transaction(() => main.run("INSERT INTO users (name) VALUES ('order-note')"));
      });
    });
    expect(await names(main)).toEqual(['order', 'order-line', 'order-note']);
    expect(await names(audit)).toEqual(['audit']);
  });

  test("what the outer pool wrote inside another pool's transaction is rolled back with its own transaction", async () => {
    const main = pool({ mode, filename: seededFile(0), poolSize: 2, busyTimeoutMs: 100 });
    const audit = pool({ mode, filename: seededFile(0), poolSize: 2, busyTimeoutMs: 100 });
    const failure = new Error('order refused');
    const outcome = main.transaction(async () => {
      await audit.transaction(async () => {
        await main.run("INSERT INTO users (name) VALUES ('order-line')");
        await audit.run("INSERT INTO users (name) VALUES ('audit')");
      });
      throw failure;
    });
    await expect(outcome).rejects.toBe(failure);
    expect(await names(main)).toEqual([]);
    expect(await names(audit)).toEqual(['audit']);
  });
});
