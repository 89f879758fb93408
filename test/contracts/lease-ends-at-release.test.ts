import { describe, expect, test } from 'vitest';
import { LeaseReleasedError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { MODES, pool } from './support.js';

/**
 * DESIGN.md §5: a lease ends at release. Its statements and iterators stop, and nothing it set
 * (statement modes, an open transaction, a statement still in flight) reaches the next borrower.
 */

describe('statement modes never reach another caller (defect 1)', () => {
  test.each(['pluck', 'raw', 'expand'] as const)('%s() on a lease statement leaves db.get() of the same SQL alone', async (mode) => {
    const db = pool({ poolSize: 1 });
    const sql = 'SELECT id, name FROM users WHERE id = ?';
    {
      await using lease = await db.getConnection();
      const statement = lease.prepare(sql)[mode](true);
      expect(statement.get(1)).not.toEqual({ id: 1, name: 'user1' });
    }
    // The same connection (poolSize 1), the same SQL text: the plain row shape.
    expect(await db.get(sql, [1])).toEqual({ id: 1, name: 'user1' });
    await using again = await db.getConnection();
    expect(again.prepare(sql).get(2)).toEqual({ id: 2, name: 'user2' });
  });

  test('safeIntegers() and bind() on a lease statement stay with that statement', async () => {
    const db = pool({ poolSize: 1 });
    const sql = 'SELECT id FROM users WHERE id = ?';
    {
      await using lease = await db.getConnection();
      expect(lease.prepare(sql).safeIntegers(true).get(1)).toEqual({ id: 1n });
      const bound = lease.prepare(sql).bind(2);
      expect(bound.get()).toEqual({ id: 2 });
      expect(() => bound.get(3)).toThrow(TypeError);
    }
    expect(await db.get(sql, [1])).toEqual({ id: 1 });
    await using again = await db.getConnection();
    expect(again.prepare(sql).get(3)).toEqual({ id: 3 });
  });
});

describe('iterators end at release (defect 2)', () => {
  test('a lease.iterate() iterator throws LeaseReleasedError after release, and the next borrower can query', async () => {
    const db = pool({ poolSize: 1 });
    const lease = await db.getConnection();
    const rows = lease.iterate<{ id: number }>('SELECT id FROM users ORDER BY id');
    expect((await rows.next()).value).toEqual({ id: 1 });
    lease.release();
    expect(await captureRejection(rows.next())).toBeInstanceOf(LeaseReleasedError);
    // The same connection, lent again: not "busy executing a query".
    expect(await db.all('SELECT id FROM users ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    await db.run('INSERT INTO users (name) VALUES (?)', ['after']);
  });

  test('a synchronous iterator of lease.prepare() is closed at release and throws after it', async () => {
    const db = pool({ poolSize: 1 });
    const lease = await db.getConnection();
    const rows = lease.prepare('SELECT id FROM users ORDER BY id').iterate();
    expect(rows.next().value).toEqual({ id: 1 });
    lease.release();
    expect(() => rows.next()).toThrow(LeaseReleasedError);
    await using next = await db.getConnection();
    expect(next.connection.prepare('SELECT count(*) AS n FROM users').get()).toEqual({ n: 3 });
    next.connection.exec("INSERT INTO users (name) VALUES ('x')");
  });

  test('the raw connection and its statements throw LeaseReleasedError after release', async () => {
    const db = pool({ poolSize: 1 });
    const lease = await db.getConnection();
    const connection = lease.connection;
    const statement = connection.prepare('SELECT 1 AS one');
    expect(statement.get()).toEqual({ one: 1 });
    lease.release();
    expect(() => statement.get()).toThrow(LeaseReleasedError);
    expect(() => connection.prepare('SELECT 1')).toThrow(LeaseReleasedError);
    expect(() => connection.exec('SELECT 1')).toThrow(LeaseReleasedError);
  });
});

describe.each(MODES)('%s mode: nothing in flight reaches the next borrower', (mode) => {
  test('an un-awaited BEGIN IMMEDIATE at release does not put the next borrower in a transaction (defect 4)', async () => {
    const db = pool({ mode, poolSize: 1 });
    const lease = await db.getConnection();
    const begun = lease.run('BEGIN IMMEDIATE');
    lease.release();
    await begun.catch(() => undefined); // it may have run, or been stopped: either way it is gone
    await db.run('INSERT INTO users (name) VALUES (?)', ['kept']);
    await using next = await db.getConnection();
    expect(next.inTransaction).toBe(false);
    // A fresh connection on the file sees the insert: it was committed, not rolled back with a leftover transaction.
    expect(await next.get('SELECT count(*) AS n FROM users WHERE name = ?', ['kept'])).toEqual({ n: 1 });
    const stats = db.getConnectionStatsSync();
    expect(stats.usedConnections + stats.availableConnections).toBeLessThanOrEqual(1);
  });

  test('a transaction left open at release is rolled back before the connection is lent again', async () => {
    const db = pool({ mode, poolSize: 1 });
    const lease = await db.getConnection();
    await lease.run('BEGIN IMMEDIATE');
    await lease.run('INSERT INTO users (name) VALUES (?)', ['dropped']);
    lease.release();
    await using next = await db.getConnection();
    expect(next.inTransaction).toBe(false);
    expect(await next.get('SELECT count(*) AS n FROM users WHERE name = ?', ['dropped'])).toEqual({ n: 0 });
  });

  test('every async method of a released lease rejects with LeaseReleasedError', async () => {
    const db = pool({ mode });
    const lease = await db.getConnection();
    lease.release();
    lease.release(); // a second release does nothing
    for (const call of [() => lease.get('SELECT 1'), () => lease.all('SELECT 1'), () => lease.run('SELECT 1'), () => lease.exec('SELECT 1'), () => lease.transaction(() => 1)]) {
      expect(await captureRejection(call())).toBeInstanceOf(LeaseReleasedError);
    }
    expect(await captureRejection(lease.iterate('SELECT 1').next())).toBeInstanceOf(LeaseReleasedError);
  });
});
