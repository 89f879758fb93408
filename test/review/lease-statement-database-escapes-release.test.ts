import { expect, test } from 'vitest';
import { LeaseReleasedError } from '../../src/index.js';
import { captureError } from '../helpers/capture-error.js';
import { pool } from '../contracts/support.js';

/**
 * Review finding: a lease statement's `.database` is the connection's own better-sqlite3
 * `Database` (`LeaseStatement#access().db`), not the lease-bound view, so it outlives the lease
 * and reaches the connection's next borrower. Likewise a method read from `lease.connection` before
 * release is bound to the raw handle (`close`, `function`, `backup` ... keep working afterwards).
 *
 * docs/api.md, Lease: "after release() every accessor, statement and iterator it handed out
 * throws ... with LeaseReleasedError"; README: "a stale reference can never reach the connection's
 * next borrower" (lease-database.ts).
 */
test("a lease statement's database throws after release", async () => {
  const db = pool({ poolSize: 1 });
  const lease = await db.getConnection();
  const handle = lease.prepare('SELECT 1').database;
  lease.release();
  await using next = await db.getConnection();
  expect(captureError(() => handle.prepare('SELECT 2 AS two').get())).toBeInstanceOf(LeaseReleasedError); // actual: { two: 2 } on next's connection
  void next;
});

test('a method taken from lease.connection before release throws after it', async () => {
  const db = pool({ poolSize: 1 });
  const lease = await db.getConnection();
  const define = lease.connection.function;
  lease.release();
  expect(captureError(() => define('leaked', () => 1))).toBeInstanceOf(LeaseReleasedError); // actual: registers on the next borrower's connection
});
