import { expect, test } from 'vitest';
import { LeaseReleasedError } from '../../src/index.js';
import { captureError } from '../helpers/capture-error.js';
import { pool } from './support.js';

/**
 * docs/api.md, Lease: "after release() every accessor, statement and iterator it handed out
 * throws ... LeaseReleasedError". That includes what they lead to: a lease statement's `database`,
 * a method read from `lease.connection` before release, and the handle such a method returns
 * (`function()` returns its database). None of them reaches the connection's next borrower.
 */

test("a lease statement's database is the lease's connection, and throws after release", async () => {
  const db = pool({ poolSize: 1 });
  const lease = await db.getConnection();
  const handle = lease.prepare('SELECT 1').database;
  expect(db.findConnection(handle)).toBe(lease.healthyConnection);
  lease.release();
  await using next = await db.getConnection(); // the same connection (poolSize 1)
  expect(captureError(() => handle.prepare('SELECT 2 AS two').get())).toBeInstanceOf(LeaseReleasedError);
  expect(next.released).toBe(false);
});

test('methods read from lease.connection before release throw after it, and reach nothing of the next borrower', async () => {
  const db = pool({ poolSize: 1 });
  const lease = await db.getConnection();
  const { function: define, exec, prepare, pragma, transaction } = lease.connection;
  lease.release();
  expect(captureError(() => define('leaked', () => 1))).toBeInstanceOf(LeaseReleasedError);
  expect(captureError(() => exec('CREATE TABLE leaked (id INTEGER)'))).toBeInstanceOf(LeaseReleasedError);
  expect(captureError(() => prepare('SELECT 1'))).toBeInstanceOf(LeaseReleasedError);
  expect(captureError(() => pragma('user_version = 7'))).toBeInstanceOf(LeaseReleasedError);
  expect(captureError(() => transaction(() => 1))).toBeInstanceOf(LeaseReleasedError);
  await using next = await db.getConnection();
  expect(await next.get("SELECT count(*) AS n FROM sqlite_master WHERE name = 'leaked'")).toEqual({ n: 0 });
  expect(await next.get('PRAGMA user_version')).toEqual({ user_version: 0 });
  expect(captureError(() => next.connection.prepare('SELECT leaked()'))).toMatchObject({ code: 'SQLITE_ERROR' });
});

test('a method of lease.connection that returns its database returns the lease-bound one', async () => {
  const db = pool({ poolSize: 1 });
  const lease = await db.getConnection();
  const returned = lease.connection.function('one', () => 1);
  expect(returned.prepare('SELECT one() AS one').get()).toEqual({ one: 1 });
  lease.release();
  expect(captureError(() => returned.prepare('SELECT 1'))).toBeInstanceOf(LeaseReleasedError);
});
