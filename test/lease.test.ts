import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { DatabaseManager, Lease, LeaseReleasedError, SqlitePoolError } from '../src/index.js';
import { captureError, captureRejection } from './helpers/capture-error.js';
import { tempDbPath, track } from './helpers/temp-db.js';

function makePool(poolSize = 2): DatabaseManager {
  return track(new DatabaseManager({ filename: tempDbPath(), poolSize, healthCheckConfig: { minHealthyConnections: 1 } }));
}

describe('Lease helpers', () => {
  test('run, get, all, iterate, exec, pragma and prepare work on the leased connection', async () => {
    const db = makePool();
    const lease = await db.getConnection();
    await lease.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    expect(await lease.run('INSERT INTO t (v) VALUES (?)', ['a'])).toEqual({ changes: 1, lastInsertRowid: 1 });
    await lease.run('INSERT INTO t (v) VALUES (:v)', { v: 'b' });
    expect(await lease.get('SELECT v FROM t WHERE id = ?', [2])).toEqual({ v: 'b' });
    expect((await lease.all<{ v: string }>('SELECT v FROM t ORDER BY id')).map((r) => r.v)).toEqual(['a', 'b']);
    const ids: number[] = [];
    for await (const row of lease.iterate<{ id: number }>('SELECT id FROM t ORDER BY id')) ids.push(row.id);
    expect(ids).toEqual([1, 2]);
    expect(lease.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(lease.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 2 });
    lease.release();
  });
});

describe('release', () => {
  test('a second release does nothing', async () => {
    const db = makePool(1);
    const lease = await db.getConnection();
    expect(lease.released).toBe(false);
    lease.release();
    expect(lease.released).toBe(true);
    const other = await db.getConnection(); // the same (only) connection, now someone else's
    lease.release(); // must not give `other`'s connection back to the pool
    expect((await db.getConnectionStats()).usedConnections).toBe(1);
    expect(other.released).toBe(false);
    other.release();
  });

  test('use after release throws LeaseReleasedError, for every accessor', async () => {
    const db = makePool();
    const lease = await db.getConnection();
    const id = lease.connectionId;
    lease.release();
    // The synchronous accessors throw; the async query methods reject (iterate() fails the loop).
    const syncUses: [string, () => unknown][] = [
      ['connection', () => lease.connection],
      ['healthyConnection', () => lease.healthyConnection],
      ['prepare', () => lease.prepare('SELECT 1')],
      ['pragma', () => lease.pragma('user_version')],
    ];
    const asyncUses: [string, () => Promise<unknown>][] = [
      ['run', () => lease.run('SELECT 1')],
      ['get', () => lease.get('SELECT 1')],
      ['all', () => lease.all('SELECT 1')],
      [
        'iterate',
        async () => {
          for await (const row of lease.iterate('SELECT 1')) void row;
        },
      ],
      ['exec', () => lease.exec('SELECT 1')],
    ];
    const failures: [string, unknown][] = [
      ...syncUses.map(([name, use]): [string, unknown] => [name, captureError(use)]),
    ];
    for (const [name, use] of asyncUses) failures.push([name, await captureRejection(use())]);
    expect(failures.map(([name]) => name)).toEqual(['connection', 'healthyConnection', 'prepare', 'pragma', 'run', 'get', 'all', 'iterate', 'exec']);
    for (const [name, failure] of failures) {
      const error = failure as LeaseReleasedError;
      expect(error, name).toBeInstanceOf(LeaseReleasedError);
      expect(error).toBeInstanceOf(SqlitePoolError);
      expect(error.name).toBe('LeaseReleasedError');
      expect(error.code).toBe('SQLITE_POOL_LEASE_RELEASED');
      expect(error.message).toBe(`The lease on ${id} was already released; acquire a new connection`);
    }
    // Identity stays readable for logs.
    expect(lease.connectionId).toBe(id);
  });

  test('await using releases at the end of the block, also when it throws', async () => {
    const db = makePool(1);
    let raw: Database.Database | undefined;
    {
      await using lease = await db.getConnection();
      raw = lease.connection;
      expect((await db.getConnectionStats()).usedConnections).toBe(1);
    }
    expect((await db.getConnectionStats()).usedConnections).toBe(0);
    const boom = new Error('boom');
    let kept: Lease | undefined;
    await expect((async () => {
      await using lease = await db.getConnection();
      kept = lease;
      throw boom;
    })()).rejects.toBe(boom);
    expect(kept?.released).toBe(true);
    expect((await db.getConnectionStats()).usedConnections).toBe(0);
    expect(raw).toBeInstanceOf(Database);
  });

  test('using (synchronous dispose) releases too', async () => {
    const db = makePool(1);
    const lease = await db.getConnection();
    {
      using held = lease;
      expect(held.released).toBe(false);
    }
    expect(lease.released).toBe(true);
  });
});
