import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test, vi } from 'vitest';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  ConnectionCreateError,
  DatabaseManager,
  HealthyConnection,
  Lease,
  LeaseReleasedError,
  PoolClosedError,
  type DatabaseManagerOptions,
} from '../src/index.js';
import { captureRejection } from './helpers/capture-error.js';
import { runScript, SRC } from './helpers/run-script.js';
import { advance, captureLogger, flush, settled, tempDir, tempDbPath, track, useFakeClock } from './helpers/temp-db.js';

function makePool(options: Partial<DatabaseManagerOptions> = {}): DatabaseManager {
  return track(new DatabaseManager({ filename: tempDbPath(), ...options }));
}

/** `SELECT flaky()` fails on the connections in `failingDbs`, passes elsewhere. */
function flakyPool(options: Partial<DatabaseManagerOptions> = {}) {
  const failingDbs = new Set<Database.Database>();
  const opened: Database.Database[] = [];
  const pool = makePool({
    ...options,
    healthCheckConfig: { query: 'SELECT flaky()', ...(options.healthCheckConfig as object) },
    onConnect: (db) => {
      opened.push(db);
      db.function('flaky', () => {
        if (failingDbs.has(db)) throw new Error(`flaky fails on this connection`);
        return 1;
      });
      db.function('advance', (ms: unknown) => {
        vi.advanceTimersByTime(Number(ms));
        return Number(ms);
      });
    },
  });
  return { pool, failingDbs, opened };
}

describe('initialize()', () => {
  test('opens minHealthyConnections, probes each, and a second call does nothing', async () => {
    const logger = captureLogger();
    const db = makePool({ poolSize: 5, healthCheckConfig: { minHealthyConnections: 3 }, logger });
    expect(db.initialized).toBe(false);
    await db.initialize();
    const first = [...db.connections()];
    expect(first).toHaveLength(3);
    expect(first.every((c) => c instanceof HealthyConnection && c.isHealthy)).toBe(true);
    const stats = await db.getConnectionStats();
    expect(stats).toMatchObject({ poolSize: 3, maxPoolSize: 5, availableConnections: 3, usedConnections: 0, initialized: true });
    expect(stats.lifetime.created).toBe(3);
    expect(stats.lifetime.healthChecks).toBe(3); // the first probe of each new connection
    await db.initialize();
    expect([...db.connections()]).toEqual(first);
    expect((await db.getConnectionStats()).lifetime.created).toBe(3);
    expect(logger.messages('info').filter((m) => m.includes('opened 3 connection(s)'))).toHaveLength(1);
  });

  test('with minHealthyConnections 0 it still opens one, so a bad path fails here', async () => {
    const db = makePool({ healthCheckConfig: { minHealthyConnections: 0 } });
    await db.initialize();
    expect((await db.getConnectionStats()).poolSize).toBe(1);
  });

  test('fails fast on a bad path with a clear ConnectionCreateError, and stays uninitialized', async () => {
    const file = path.join(tempDir(), 'no', 'such', 'dir', 'app.db');
    const db = makePool({ filename: file });
    const error = (await captureRejection(db.initialize())) as ConnectionCreateError;
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect(error.code).toBe('SQLITE_POOL_CONNECT_FAILED');
    expect(error.message).toBe(`Could not open a connection to ${file}: Cannot open database because the directory does not exist`);
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(db.initialized).toBe(false);
    expect((await db.getConnectionStats()).poolSize).toBe(0);
    // getConnection() reports the same failure instead of waiting for its deadline.
    expect(await captureRejection(db.getConnection())).toBeInstanceOf(ConnectionCreateError);
  });

  test('a path that SQLite cannot open (a directory) fails with SQLITE_CANTOPEN as the cause', async () => {
    const dir = tempDir();
    const error = (await captureRejection(makePool({ filename: dir }).initialize())) as ConnectionCreateError;
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect(error.message).toBe(`Could not open a connection to ${dir}: unable to open database file`);
    expect(error.cause).toBeInstanceOf(Database.SqliteError);
    expect((error.cause as { code: string }).code).toBe('SQLITE_CANTOPEN');
  });

  test('fileMustExist refuses a missing file', async () => {
    const db = makePool({ fileMustExist: true });
    const error = (await captureRejection(db.initialize())) as ConnectionCreateError;
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect(fs.existsSync(db.options.filename)).toBe(false);
  });

  test('closes what it opened when a later connection fails', async () => {
    const opened: Database.Database[] = [];
    const boom = new Error('onConnect refused the third connection');
    const db = makePool({
      poolSize: 5,
      healthCheckConfig: { minHealthyConnections: 3 },
      onConnect: (raw) => {
        opened.push(raw);
        if (opened.length === 3) throw boom;
      },
    });
    const error = (await captureRejection(db.initialize())) as ConnectionCreateError;
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect(error.cause).toBe(boom);
    expect(opened).toHaveLength(3);
    expect(opened.map((raw) => raw.open)).toEqual([false, false, false]);
    expect([...db.connections()]).toHaveLength(0);
    expect(db.initialized).toBe(false);
  });

  test('after close() it refuses with PoolClosedError', async () => {
    const db = makePool();
    await db.initialize();
    await db.close();
    expect(await captureRejection(db.initialize())).toBeInstanceOf(PoolClosedError);
    expect(await captureRejection(db.getConnection())).toMatchObject({ code: 'SQLITE_POOL_CLOSED' });
  });

  test('the first getConnection() initializes the pool', async () => {
    const db = makePool();
    const lease = await db.getConnection();
    expect(db.initialized).toBe(true);
    lease.release();
  });

  test('readonly opens an existing rollback-journal database with the default pragmas; writes fail, the connection stays', async () => {
    const file = tempDbPath();
    const setup = new Database(file);
    setup.pragma('journal_mode = DELETE');
    setup.exec("CREATE TABLE t (x); INSERT INTO t VALUES ('kept')");
    setup.close();
    const db = makePool({ filename: file, readonly: true, poolSize: 2 });
    await db.initialize();
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 'kept' }]);
    expect(await captureRejection(db.run("INSERT INTO t VALUES ('no')"))).toMatchObject({ code: 'SQLITE_READONLY' });
    const stats = await db.getConnectionStats();
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2 });
    expect(stats.lifetime.closed.error).toBe(0);
  });

  test('onConnect and pragmas apply to every connection', async () => {
    const db = makePool({
      poolSize: 2,
      pragmas: { journal_mode: 'DELETE', cache_size: -1000 },
      onConnect: (raw) => raw.function('double_it', (x: unknown) => Number(x) * 2),
    });
    const [a, b] = [await db.getConnection(), await db.getConnection()];
    for (const lease of [a, b]) {
      expect(lease.connection.pragma('journal_mode', { simple: true })).toBe('delete');
      expect(lease.connection.pragma('cache_size', { simple: true })).toBe(-1000);
      expect(await lease.get('SELECT double_it(21) AS v')).toEqual({ v: 42 });
    }
    a.release();
    b.release();
  });
});

describe('getConnection() and leases', () => {
  test('the lease gives the better-sqlite3 Database and its HealthyConnection', async () => {
    const db = makePool();
    const lease = await db.getConnection();
    expect(lease).toBeInstanceOf(Lease);
    expect(lease.connection).toBeInstanceOf(Database);
    expect(lease.healthyConnection).toBeInstanceOf(HealthyConnection);
    // lease.connection is a lease-bound view of the connection's own handle: the same database, not the same object.
    expect(lease.connection).not.toBe(lease.healthyConnection.connection);
    expect(lease.connection.name).toBe(lease.healthyConnection.connection.name);
    expect(db.findConnection(lease.connection)).toBe(lease.healthyConnection);
    expect(db.findConnection(lease.healthyConnection.connection)).toBe(lease.healthyConnection);
    expect(lease.connectionId).toBe(lease.healthyConnection.connectionId);
    expect((await db.getConnectionStats()).usedConnections).toBe(1);
    lease.release();
    lease.release();
    const stats = await db.getConnectionStats();
    expect(stats).toMatchObject({ usedConnections: 0, availableConnections: 2 });
  });

  test('two callers never hold the same connection', async () => {
    const db = makePool({ poolSize: 4 });
    const leases = await Promise.all([1, 2, 3, 4].map(() => db.getConnection()));
    expect(new Set(leases.map((l) => l.healthyConnection)).size).toBe(4);
    for (const lease of leases) lease.release();
  });

  test('withConnection passes the Database, returns the result and releases on every path', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    let seen: Database.Database | undefined;
    const value = await db.withConnection((raw, lease) => {
      seen = raw;
      expect(lease.connection).toBe(raw);
      return raw.prepare('SELECT 7 AS v').get();
    });
    expect(value).toEqual({ v: 7 });
    expect(seen).toBeInstanceOf(Database);
    const sync = new Error('sync failure');
    expect(await captureRejection(db.withConnection(() => { throw sync; }))).toBe(sync);
    const asyncError = new Error('async failure');
    expect(await captureRejection(db.withConnection(async () => { await flush(); throw asyncError; }))).toBe(asyncError);
    const stats = await db.getConnectionStats();
    expect(stats).toMatchObject({ usedConnections: 0, availableConnections: 1 });
    // With poolSize 1, a leak above would make this wait for ever.
    expect(await db.withConnection((raw) => raw.open)).toBe(true);
  });

  test('the shortcuts run one statement each and release', async () => {
    const db = makePool({ poolSize: 2 });
    await db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX users_name ON users (name)');
    const inserted = await db.run('INSERT INTO users (name) VALUES (?)', ['ada']);
    expect(inserted).toEqual({ changes: 1, lastInsertRowid: 1 });
    await db.run('INSERT INTO users (name) VALUES (@name)', { name: 'grace' });
    expect(await db.all('SELECT name FROM users ORDER BY id')).toEqual([{ name: 'ada' }, { name: 'grace' }]);
    expect(await db.get('SELECT name FROM users WHERE id = ?', [2])).toEqual({ name: 'grace' });
    expect(await db.get('SELECT name FROM users WHERE id = ?', [99])).toBeUndefined();
    expect((await db.getConnectionStats()).usedConnections).toBe(0);
    expect(await captureRejection(db.run('INSERT INTO nope VALUES (1)'))).toMatchObject({ code: 'SQLITE_ERROR' });
    expect((await db.getConnectionStats()).usedConnections).toBe(0);
  });

  test('the shortcuts prepare a statement once per connection (statement cache)', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    const lease = await db.getConnection();
    const prepare = vi.spyOn(lease.healthyConnection.connection, 'prepare');
    lease.release();
    for (let i = 0; i < 5; i++) await db.get('SELECT ? AS v', [i]);
    expect(prepare).toHaveBeenCalledTimes(1);
    const again = await db.getConnection();
    // Lease statements are the lease's own objects over the same cached statement.
    expect(again.prepare('SELECT ? AS v').get(1)).toEqual(again.prepare('SELECT ? AS v').get(1));
    expect(prepare).toHaveBeenCalledTimes(1);
    again.release();
  });

  test('statementCacheSize 0 prepares every time', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 }, statementCacheSize: 0 });
    const lease = await db.getConnection();
    const prepare = vi.spyOn(lease.healthyConnection.connection, 'prepare');
    lease.prepare('SELECT 1').get();
    lease.prepare('SELECT 1').get();
    expect(prepare.mock.calls.length).toBeGreaterThanOrEqual(2);
    lease.release();
  });
});

describe('transaction()', () => {
  test('commits what fn did and returns its result', async () => {
    const db = makePool();
    await db.exec('CREATE TABLE t (x)');
    const result = await db.transaction(async (lease) => {
      expect(lease.connection.inTransaction).toBe(true);
      await lease.run('INSERT INTO t VALUES (1)');
      await flush();
      await lease.run('INSERT INTO t VALUES (2)');
      return 'done';
    });
    expect(result).toBe('done');
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 1 }, { x: 2 }]);
    expect((await db.getConnectionStats()).usedConnections).toBe(0);
  });

  test('rolls back when fn throws, rethrows, and releases', async () => {
    const db = makePool();
    await db.exec('CREATE TABLE t (x)');
    const boom = new Error('boom');
    const error = await captureRejection(db.transaction(async (lease) => {
      await lease.run('INSERT INTO t VALUES (1)');
      await flush();
      throw boom;
    }));
    expect(error).toBe(boom);
    expect(await db.all('SELECT x FROM t')).toEqual([]);
    const stats = await db.getConnectionStats();
    expect(stats.usedConnections).toBe(0);
    expect(Object.values(stats.lifetime.closed).reduce((a, b) => a + b)).toBe(0);
  });

  test('uses BEGIN IMMEDIATE: the write lock is taken before fn runs', async () => {
    const db = makePool();
    const outsider = new Database(db.options.filename, { timeout: 0 });
    try {
      await db.transaction(() => {
        expect(() => outsider.exec('BEGIN IMMEDIATE')).toThrow(/locked|busy/i);
      });
      outsider.exec('BEGIN IMMEDIATE; ROLLBACK');
    } finally {
      outsider.close();
    }
  });

  test('concurrent transactions queue (in order, asynchronously) instead of blocking on the lock', async () => {
    const db = makePool({ poolSize: 4 });
    await db.exec('CREATE TABLE log (who TEXT, step INTEGER)');
    const order: string[] = [];
    await Promise.all(['a', 'b', 'c'].map((who) => db.transaction(async (lease) => {
      order.push(`${who} begins`);
      await lease.run('INSERT INTO log VALUES (?, 1)', [who]);
      await flush();
      await lease.run('INSERT INTO log VALUES (?, 2)', [who]);
      order.push(`${who} ends`);
    })));
    expect(order).toEqual(['a begins', 'a ends', 'b begins', 'b ends', 'c begins', 'c ends']);
    expect(await db.get('SELECT COUNT(*) AS n FROM log')).toEqual({ n: 6 });
  });
});

describe('acquire: FIFO waiters and the deadline', () => {
  test('waiters are served first in, first out', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    const holder = await db.getConnection();
    const served: number[] = [];
    const waiting = [1, 2, 3, 4].map((n) => db.getConnection().then((lease) => {
      served.push(n);
      return lease;
    }));
    await flush();
    expect((await db.getConnectionStats()).pendingRequests).toBe(4);
    holder.release();
    for (const promise of waiting) {
      const lease = await promise;
      await flush();
      lease.release();
    }
    expect(served).toEqual([1, 2, 3, 4]);
  });

  test('a new caller does not overtake a waiter (the fast path yields to the queue)', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    const holder = await db.getConnection();
    const order: string[] = [];
    const waiter = db.getConnection().then((l) => { order.push('waiter'); return l; });
    holder.release();
    const late = db.getConnection().then((l) => { order.push('late'); return l; });
    (await waiter).release();
    (await late).release();
    expect(order).toEqual(['waiter', 'late']);
  });

  test('the deadline rejects with AcquireTimeoutError carrying used, idle and waiting counts', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ poolSize: 2, acquireTimeoutMs: 1000, logger });
    const leases = [await db.getConnection(), await db.getConnection()];
    const first = captureRejection(db.getConnection());
    await advance(500);
    const second = captureRejection(db.getConnection());
    await advance(499);
    expect((await db.getConnectionStats()).pendingRequests).toBe(2);
    await advance(1);
    const error = (await first) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.code).toBe('SQLITE_POOL_ACQUIRE_TIMEOUT');
    expect(error.timeoutMs).toBe(1000);
    expect(error.pool).toEqual({ used: 2, idle: 0, waiting: 1, max: 2 });
    expect(error.message).toBe('Timed out after 1000 ms waiting for a connection (used 2, idle 0, waiting 1, max 2)');
    expect(error.cause).toBeUndefined();
    expect((await db.getConnectionStats()).pendingRequests).toBe(1);
    await advance(500);
    expect(await second).toBeInstanceOf(AcquireTimeoutError);
    const stats = await db.getConnectionStats();
    expect(stats.pendingRequests).toBe(0);
    expect(stats.lifetime.timeouts).toBe(2);
    // Counted one by one, logged as an episode: the first in full, the rest in a summary 30 s on.
    expect(logger.messages('warn').filter((m) => m.startsWith('Timed out after 1000 ms'))).toHaveLength(1);
    await advance(30_000);
    expect(logger.messages('warn').filter((m) => m.startsWith('1 more acquire timeout(s) in the last 30 s'))).toHaveLength(1);
    for (const lease of leases) lease.release();
  });

  test('callers whose deadlines pass together each count the others still in line', async () => {
    useFakeClock();
    const db = makePool({ poolSize: 1, acquireTimeoutMs: 1000 });
    const lease = await db.getConnection();
    const rejected = [captureRejection(db.getConnection()), captureRejection(db.getConnection()), captureRejection(db.getConnection())];
    await advance(1000);
    const errors = (await Promise.all(rejected)) as AcquireTimeoutError[];
    expect(errors.map((error) => error.pool.waiting)).toEqual([2, 1, 0]);
    lease.release();
  });

  test('the per-call timeoutMs overrides acquireTimeoutMs', async () => {
    useFakeClock();
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 }, acquireTimeoutMs: 60_000 });
    const holder = await db.getConnection();
    const rejected = captureRejection(db.getConnection({ timeoutMs: 10 }));
    await advance(10);
    expect(((await rejected) as AcquireTimeoutError).timeoutMs).toBe(10);
    holder.release();
  });

  test('the timeout error carries the last connection failure as its cause', async () => {
    useFakeClock();
    let refuse = false;
    const refusal = new Error('disk says no');
    const db = makePool({
      poolSize: 3,
      healthCheckConfig: { minHealthyConnections: 1 },
      acquireTimeoutMs: 1000,
      onConnect: () => {
        if (refuse) throw refusal;
      },
    });
    const holder = await db.getConnection();
    refuse = true;
    const rejected = captureRejection(db.getConnection());
    await advance(1000);
    const error = (await rejected) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.pool).toMatchObject({ used: 1, idle: 0, waiting: 0, max: 3 });
    expect(error.message).toContain(`the last attempt to open a connection failed: Could not open a connection to ${db.options.filename}: disk says no`);
    expect(error.cause).toBeInstanceOf(ConnectionCreateError);
    expect((error.cause as Error).cause).toBe(refusal);
    holder.release();
  });

  test('a waiter is served by a retry once connections can be opened again', async () => {
    useFakeClock();
    let refuse = false;
    const db = makePool({
      poolSize: 2,
      healthCheckConfig: { minHealthyConnections: 1 },
      acquireTimeoutMs: 10_000,
      onConnect: () => {
        if (refuse) throw new Error('not now');
      },
    });
    const holder = await db.getConnection();
    refuse = true;
    let served: Lease | undefined;
    void db.getConnection().then((lease) => { served = lease; });
    await advance(200);
    expect(served).toBeUndefined();
    refuse = false;
    await advance(5000); // the retry backs off, but well within the deadline
    expect(served).toBeInstanceOf(Lease);
    expect(served?.connectionId).not.toBe(holder.connectionId);
    served?.release();
    holder.release();
  });

  test('an AbortSignal ends the wait with AcquireAbortedError', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    const holder = await db.getConnection();
    const controller = new AbortController();
    const rejected = captureRejection(db.getConnection({ signal: controller.signal }));
    await flush();
    controller.abort(new Error('user went away'));
    const error = (await rejected) as AcquireAbortedError;
    expect(error).toBeInstanceOf(AcquireAbortedError);
    expect(error.code).toBe('SQLITE_POOL_ACQUIRE_ABORTED');
    expect((error.cause as Error).message).toBe('user went away');
    expect((await db.getConnectionStats()).pendingRequests).toBe(0);
    expect(await captureRejection(db.getConnection({ signal: AbortSignal.abort() }))).toBeInstanceOf(AcquireAbortedError);
    holder.release();
    // The aborted waiter did not take the released connection.
    expect((await db.getConnectionStats()).availableConnections).toBe(1);
  });
});

describe('borrow-time probe', () => {
  test('an idle connection is probed on borrow once its cached result is older than cacheDurationMs', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 5000 }, logger });
    await db.initialize();
    const checks = async () => (await db.getConnectionStats()).lifetime.healthChecks;
    expect(await checks()).toBe(1); // the connect probe
    (await db.getConnection()).release();
    await advance(4999);
    (await db.getConnection()).release();
    expect(await checks()).toBe(1);
    await advance(1);
    (await db.getConnection()).release();
    expect(await checks()).toBe(2);
    expect(logger.messages('debug').filter((m) => /Health check passed on conn_1 \(borrow\)/.test(m))).toHaveLength(1);
  });

  test('a connection that failed its probe is never handed out, also not to the next caller', async () => {
    useFakeClock();
    const { pool, failingDbs } = flakyPool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 1000 } });
    await pool.initialize();
    const [first] = [...pool.connections()];
    failingDbs.add(first!.connection);
    await advance(1000);
    const a = await pool.getConnection();
    expect(a.healthyConnection).not.toBe(first);
    expect(first!.metrics.lastHealthCheckPassed).toBe(false);
    expect(first!.status).toBe('healthy'); // one failure: kept aside, not yet replaced
    // The failed connection is idle again, on top of the stack, with a fresh (failed) result.
    const b = await pool.getConnection();
    expect(b.healthyConnection).not.toBe(first);
    // The pool is full (3) and its third connection failed: the next caller waits. Every
    // cacheDurationMs the failed connection is probed again; the 4th failure in a row (more than
    // maxConsecutiveFailures 3) makes it unhealthy, it is replaced, and the caller gets the new one.
    let c: Lease | undefined;
    void pool.getConnection().then((lease) => { c = lease; });
    await advance(2000);
    expect(c).toBeUndefined();
    expect(first!.metrics.consecutiveFailures).toBe(3);
    await advance(1000);
    await settled(pool); // the replacement opens in the background
    await flush();
    expect(c).toBeInstanceOf(Lease);
    expect(c!.healthyConnection).not.toBe(first);
    expect(first!.connection.open).toBe(false);
    expect((await pool.getConnectionStats()).lifetime.closed.unhealthy).toBe(1);
    for (const lease of [a, b, c!]) lease.release();
  });

  test('a connection that fails fatally on borrow is replaced, and the caller gets a good one', async () => {
    useFakeClock();
    const logger = captureLogger();
    const { pool, opened } = flakyPool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 2, cacheDurationMs: 1000 }, logger });
    await pool.initialize();
    // An idle connection left inside a transaction behind the pool's back: fatal for a probe.
    for (const raw of opened) raw.exec('BEGIN');
    await advance(1000);
    const lease = await pool.getConnection();
    expect(lease.connection.inTransaction).toBe(false);
    expect(opened.slice(0, 2).every((raw) => !raw.open)).toBe(true);
    const stats = await pool.getConnectionStats();
    // A fatal finding (a connection left inside a transaction) means it broke: reason error.
    expect(stats.lifetime.closed.error).toBe(2);
    await settled(pool);
    expect((await pool.getConnectionStats()).poolSize).toBe(2);
    expect(logger.messages('warn').some((m) => m.includes('SQLITE_POOL_TRANSACTION_OPEN') || m.includes('open transaction'))).toBe(true);
    lease.release();
  });
});

describe('replacement during a borrow (re-entrancy)', () => {
  test('a connection replaced mid-borrow does not strand the next one in the reserved state', async () => {
    useFakeClock();
    const { pool, opened } = flakyPool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 2, cacheDurationMs: 1000 } });
    await pool.initialize();
    const [a, b] = opened;
    await advance(1000); // both need a probe on borrow now
    b!.exec('BEGIN'); // B (top of the idle stack) fails its probe fatally and is replaced
    const lease = await pool.getConnection();
    expect([a, b]).not.toContain(undefined);
    expect(b!.open).toBe(false);
    await settled(pool);
    const stats = await pool.getConnectionStats();
    // A and the replacement C: one lent, the other idle and lendable.
    expect(stats).toMatchObject({ poolSize: 2, usedConnections: 1, availableConnections: 1 });
    const second = await pool.getConnection();
    expect(second.healthyConnection).not.toBe(lease.healthyConnection);
    expect((await pool.getConnectionStats()).lifetime.created).toBe(3);
    lease.release();
    second.release();
  });

  test('one connection is never lent to two callers when a failed probe triggers a replacement while waiters are served', async () => {
    useFakeClock();
    const { pool, opened, failingDbs } = flakyPool({
      poolSize: 3,
      healthCheckConfig: { minHealthyConnections: 3, cacheDurationMs: 1000, maxConsecutiveFailures: 1 },
    });
    const holders = [await pool.getConnection(), await pool.getConnection(), await pool.getConnection()];
    const [a, b] = opened;
    await advance(1000);
    failingDbs.add(a!);
    failingDbs.add(b!);
    // Give A and B back: idle, but both fail their borrow probe once (kept aside, not replaced yet).
    for (const holder of holders) if (holder.healthyConnection.connection === a || holder.healthyConnection.connection === b) holder.release();
    const waiters = [pool.getConnection(), pool.getConnection(), pool.getConnection()];
    await flush();
    expect((await pool.getConnectionStats()).pendingRequests).toBe(3);
    // A recovers; B, probed first (it failed last, so it is on top of the idle stack), fails again
    // (more than maxConsecutiveFailures: replaced) and its replacement is opened mid-borrow.
    failingDbs.delete(a!);
    await advance(1000);
    const served: Lease[] = [];
    for (const waiter of waiters) void waiter.then((lease) => served.push(lease));
    await flush();
    const held = served.map((lease) => lease.healthyConnection);
    expect(new Set(held).size).toBe(held.length);
    expect(b!.open).toBe(false);
    expect(served).toHaveLength(2);
    // The caller still waiting gets the last holder's connection when it comes back.
    holders.find((h) => !h.released)!.release();
    await flush();
    expect(served).toHaveLength(3);
    expect(new Set(served.map((lease) => lease.healthyConnection)).size).toBe(3);
    for (const lease of served) lease.release();
  });
});

describe('release', () => {
  test('inside an open transaction: rolled back before reuse, connection kept', async () => {
    const logger = captureLogger();
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 }, logger });
    await db.exec('CREATE TABLE t (x)');
    const lease = await db.getConnection();
    const id = lease.connectionId;
    await lease.exec('BEGIN');
    await lease.run('INSERT INTO t VALUES (1)');
    lease.release();
    expect(logger.messages('warn')).toContain(`${id} was released inside an open transaction; rolled back`);
    const next = await db.getConnection();
    expect(next.connectionId).toBe(id);
    expect(next.connection.inTransaction).toBe(false);
    expect(await next.all('SELECT x FROM t')).toEqual([]);
    next.release();
    const stats = await db.getConnectionStats();
    expect(Object.values(stats.lifetime.closed).reduce((a, b) => a + b)).toBe(0);
  });

  test('records usage: statements count, probes and rollbacks do not; query time is statement time, not lease time', async () => {
    useFakeClock();
    const { pool } = flakyPool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0 } });
    const lease = await pool.getConnection();
    const healthy = lease.healthyConnection;
    await lease.get('SELECT advance(10)'); // 10 ms
    lease.connection.prepare('SELECT advance(20)').get(); // straight on the Database: still counted, 20 ms
    await lease.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)'); // one exec, one use
    lease.pragma('user_version'); // one use
    for await (const _row of lease.iterate('SELECT x FROM t')); // one use
    await advance(1000); // holding the lease is not query time
    await lease.exec('BEGIN');
    lease.release(); // the pool's ROLLBACK is not a use
    expect(healthy.metrics.usageCount).toBe(6);
    expect(healthy.metrics.totalQueryTimeMs).toBe(30);
    expect(healthy.getStats().averageQueryTime).toBeCloseTo(0.005, 9);
    const probesBefore = healthy.metrics.healthCheckCount;
    (await pool.getConnection()).release(); // cacheDurationMs 0: a borrow probe
    expect(healthy.metrics.healthCheckCount).toBe(probesBefore + 1);
    expect(healthy.metrics.usageCount).toBe(6);
    expect((await pool.getConnectionStats()).totalUsage).toBe(6);
  });

  test('a SQL syntax error leaves the connection healthy and in the pool', async () => {
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    const lease = await db.getConnection();
    const id = lease.connectionId;
    await expect(lease.run('SELEC 1')).rejects.toThrow(/syntax error/);
    await expect(lease.run('INSERT INTO missing VALUES (1)')).rejects.toThrow(/no such table/);
    expect(lease.healthyConnection.status).toBe('healthy');
    lease.release();
    const next = await db.getConnection();
    expect(next.connectionId).toBe(id);
    next.release();
    expect((await db.getConnectionStats()).lifetime.closed).toMatchObject({ error: 0, unhealthy: 0 });
  });

  test('a connection-level error (handle closed behind the pool) evicts the connection', async () => {
    const logger = captureLogger();
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 }, logger });
    const lease = await db.getConnection();
    const id = lease.connectionId;
    const statement = lease.prepare('SELECT 1');
    lease.connection.close();
    expect(() => statement.get()).toThrow(/not open/);
    expect(lease.healthyConnection.status).toBe('unhealthy');
    expect(lease.healthyConnection.unhealthyBecause).toBe('error');
    lease.release();
    const stats = await db.getConnectionStats();
    expect(stats.lifetime.closed.error).toBe(1);
    await settled(db);
    expect((await db.getConnectionStats()).poolSize).toBe(1); // refilled
    const next = await db.getConnection();
    expect(next.connectionId).not.toBe(id);
    expect(await next.get('SELECT 1 AS one')).toEqual({ one: 1 });
    next.release();
    expect(logger.messages('warn').some((m) => m.startsWith(`Closed ${id} (error)`))).toBe(true);
  });
});

describe('getConnectionStats()', () => {
  test('has every field of the guide and ours', async () => {
    useFakeClock();
    const db = makePool({ poolSize: 4, healthCheckConfig: { minHealthyConnections: 2 } });
    await db.initialize();
    const lease = await db.getConnection();
    await lease.run('SELECT 1');
    await lease.run('SELECT 2');
    await advance(3000);
    const stats = await db.getConnectionStats();
    expect(stats).toEqual({
      poolSize: 2,
      maxPoolSize: 4,
      availableConnections: 1,
      usedConnections: 1,
      pendingRequests: 0,
      openingConnections: 0,
      closingConnections: 0,
      initialized: true,
      totalConnections: 2,
      healthyConnections: 2,
      unhealthyConnections: 0,
      staleConnections: 0,
      expiredConnections: 0,
      healthCheckSuccessRate: 1,
      averageAge: 3,
      averageUsage: 1,
      totalUsage: 2,
      lifetime: {
        created: 2,
        closed: { max_age: 0, max_usage: 0, idle: 0, unhealthy: 0, error: 0, shutdown: 0 },
        openFailures: 0,
        healthChecks: 2,
        healthCheckFailures: 0,
        timeouts: 0,
        leaks: 0,
        closedConnectionUsage: 0,
        telemetryFailures: 0,
      },
    });
    expect(db.getConnectionStatsSync()).toEqual(stats);
    lease.release();
  });

  test('before initialize: empty, not initialized', async () => {
    const stats = await makePool().getConnectionStats();
    expect(stats).toMatchObject({ poolSize: 0, maxPoolSize: 10, initialized: false, totalConnections: 0, healthCheckSuccessRate: 1 });
  });
});

describe('connections() and findConnection() (the guide debugging snippets)', () => {
  test('finds the HealthyConnection behind a leased Database and force-probes it', async () => {
    const db = makePool({ poolSize: 3 });
    const report = await db.withConnection(async (conn) => {
      for (const healthyConn of db.connections()) {
        // The guide compares handles (healthy_conn.connection == conn); a lease's handle is bound to
        // the lease, so findConnection() says which connection it is.
        if (db.findConnection(conn) === healthyConn) {
          const result = await healthyConn.validateHealth({ force: true });
          return { result, stats: healthyConn.getStats() };
        }
      }
      return undefined;
    });
    expect(report?.result).toBe(true);
    expect(report?.stats.healthCheckCount).toBe(2);
    expect(db.findConnection(new Database(':memory:'))).toBeUndefined();
  });

  test('iterates every connection, leased ones included (performance-monitoring snippet)', async () => {
    const db = makePool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 3 } });
    await db.initialize();
    const lease = await db.getConnection();
    const all = [...db.connections()];
    expect(all).toHaveLength(3);
    expect(all).toContain(lease.healthyConnection);
    const results = await Promise.all(all.map((c) => c.validateHealth({ force: true })));
    expect(results).toEqual([true, true, true]);
    lease.release();
  });
});

describe('leak detection', () => {
  test('reports a lease held past the threshold with the stack of its acquire, once, and counts it', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ leakDetectionThresholdMs: 1000, logger });
    await db.initialize();
    const lease = await acquireAndForget(db);
    await advance(999);
    expect(logger.messages('warn').filter((m) => m.startsWith('Possible leak'))).toHaveLength(0);
    await advance(1);
    const reports = logger.messages('warn').filter((m) => m.startsWith('Possible leak'));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain(`${lease.connectionId} has been leased for 1000 ms`);
    expect(reports[0]).toContain('acquireAndForget');
    await advance(10_000);
    expect(logger.messages('warn').filter((m) => m.startsWith('Possible leak'))).toHaveLength(1);
    expect((await db.getConnectionStats()).lifetime.leaks).toBe(1);
    lease.release();
    expect(logger.messages('info').some((m) => m.includes(`Leaked connection ${lease.connectionId} returned after 11000 ms`))).toBe(true);
  });

  test('a lease held past the threshold while the event loop was blocked (the check never ran) is counted on release, once', async () => {
    const logger = captureLogger();
    const db = makePool({ leakDetectionThresholdMs: 30, logger });
    await db.initialize();
    const lease = await db.getConnection();
    // A synchronous stretch (a long statement, say): no timer can fire until it ends.
    const until = performance.now() + 60;
    while (performance.now() < until) {
      // busy: this is the blocked event loop under test, not a wait
    }
    lease.release();
    const reports = logger.messages('warn').filter((m) => m.startsWith('Possible leak'));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('(found on release)');
    expect((await db.getConnectionStats()).lifetime.leaks).toBe(1);
    // The check that was scheduled for it finds nothing more to report.
    await db.withLease(async () => undefined);
    expect((await db.getConnectionStats()).lifetime.leaks).toBe(1);
  });

  test('a lease that waited in line is reported with the stack of its own acquire, not of the release that served it', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 }, leakDetectionThresholdMs: 1000, logger });
    const holder = await db.getConnection();
    const waiting = waitInLineForAConnection(db);
    await flush();
    releaseTheHolder(holder);
    const lease = await waiting;
    await advance(1000);
    const report = logger.messages('warn').find((m) => m.startsWith('Possible leak'));
    expect(report).toContain('waitInLineForAConnection');
    expect(report).not.toContain('releaseTheHolder');
    lease.release();
  });

  test('is off by default: no stacks are captured', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ logger });
    const lease = await db.getConnection();
    await advance(3_600_000);
    expect(logger.messages('warn').filter((m) => m.startsWith('Possible leak'))).toHaveLength(0);
    lease.release();
  });
});

async function acquireAndForget(db: DatabaseManager): Promise<Lease> {
  return db.getConnection();
}

function waitInLineForAConnection(db: DatabaseManager): Promise<Lease> {
  return db.getConnection();
}

function releaseTheHolder(lease: Lease): void {
  lease.release();
}

describe('close()', () => {
  test('closes idle connections, rejects waiters, waits for leases, then returns', async () => {
    const logger = captureLogger();
    const db = makePool({ poolSize: 2, logger });
    const a = await db.getConnection();
    const b = await db.getConnection();
    const waiter = captureRejection(db.getConnection());
    await flush();
    let closed = false;
    const closing = db.close({ timeoutMs: 60_000 }).then((report) => {
      closed = true;
      return report;
    });
    const waitError = (await waiter) as PoolClosedError;
    expect(waitError).toBeInstanceOf(PoolClosedError);
    expect(waitError.message).toBe('The pool was closed while waiting for a connection');
    expect(db.closed).toBe(true);
    expect(await captureRejection(db.getConnection())).toBeInstanceOf(PoolClosedError);
    a.release();
    await flush();
    expect(closed).toBe(false);
    expect(a.released).toBe(true);
    b.release();
    const report = await closing;
    expect(report.forcedLeases).toEqual([]);
    const stats = await db.getConnectionStats();
    expect(stats).toMatchObject({ poolSize: 0, initialized: false });
    expect(stats.lifetime.closed.shutdown).toBe(2);
    expect(db.close()).toBe(db.close()); // the same promise each time
    expect(logger.messages('info')).toContain(`Pool ${db.poolName} closed`);
  });

  test('force-closes leases still out after timeoutMs and reports them with their acquire stacks', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ poolSize: 2, leakDetectionThresholdMs: 60_000, logger });
    const kept = await acquireAndForget(db);
    const raw = kept.healthyConnection.connection;
    const closing = db.close({ timeoutMs: 500 });
    await advance(499);
    expect(kept.connection.open).toBe(true);
    await advance(1);
    const report = await closing;
    expect(report.forcedLeases).toHaveLength(1);
    expect(report.forcedLeases[0]).toMatchObject({ connectionId: kept.connectionId, heldMs: 500 });
    expect(report.forcedLeases[0]?.acquireStack).toContain('acquireAndForget');
    expect(logger.messages('warn').some((m) => m.includes(`close(): ${kept.connectionId} was still leased after 500 ms`) && m.includes('acquireAndForget'))).toBe(true);
    expect(raw.open).toBe(false);
    expect(kept.released).toBe(true); // the lease ended with the pool
    expect(() => kept.connection).toThrow(LeaseReleasedError);
    kept.release(); // late release: nothing happens
    expect((await db.getConnectionStats()).lifetime.closed.shutdown).toBe(2);
  });

  test('without leak detection the forced lease has no stack, and the log says how to get one', async () => {
    useFakeClock();
    const logger = captureLogger();
    const db = makePool({ logger });
    const kept = await db.getConnection();
    const closing = db.close({ timeoutMs: 0 });
    await advance(0);
    const report = await closing;
    expect(report.forcedLeases).toEqual([{ connectionId: kept.connectionId, heldMs: 0, acquireStack: undefined }]);
    expect(logger.messages('warn').some((m) => m.includes('Set leakDetectionThresholdMs'))).toBe(true);
  });

  test('closeTimeoutMs is the default grace period', async () => {
    useFakeClock();
    const db = makePool({ closeTimeoutMs: 2000 });
    await db.getConnection();
    let done = false;
    void db.close().then(() => { done = true; });
    await advance(1999);
    expect(done).toBe(false);
    await advance(1);
    expect(done).toBe(true);
  });

  test('leaves no timer behind, so the process can exit', async () => {
    useFakeClock();
    const db = makePool({ leakDetectionThresholdMs: 1000, healthCheckConfig: { intervalMs: 1000 } });
    const lease = await db.getConnection();
    expect(vi.getTimerCount()).toBe(1); // one housekeeper timer for every task
    lease.release();
    await db.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('an open pool keeps no timer that holds the process open (every timer is unref()ed)', async () => {
    const refd = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = refd();
    const db = makePool({ leakDetectionThresholdMs: 1000, healthCheckConfig: { intervalMs: 1000 } });
    const lease = await db.getConnection();
    expect(refd()).toBe(before);
    lease.release();
  });

  test('close() before initialize() works and refuses later use', async () => {
    const db = makePool();
    expect(await db.close()).toEqual({ forcedLeases: [] });
    expect(await captureRejection(db.getConnection())).toBeInstanceOf(PoolClosedError);
  });

  test('await using closes the pool', async () => {
    let raw: Database.Database | undefined;
    {
      await using db = new DatabaseManager({ filename: tempDbPath(), poolSize: 2 });
      raw = (await db.getConnection()).healthyConnection.connection;
      // the lease is left out: dispose uses closeTimeoutMs, shortened here
      (db.options as { closeTimeoutMs: number }).closeTimeoutMs = 0;
    }
    expect(raw.open).toBe(false);
  });
});

describe('the process and its timers (child processes)', () => {
  test('a caller waiting for a connection keeps the process alive until it is served or times out', async () => {
    const dir = tempDir();
    const result = await runScript(`
      import { DatabaseManager } from ${JSON.stringify(SRC)};
      const db = new DatabaseManager({ filename: ${JSON.stringify(path.join(dir, 'w.db'))}, poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
      async function main() {
        const held = await db.getConnection();
        const outcome = await db.getConnection({ timeoutMs: 200 }).then(() => 'lease', (error) => error.name);
        console.log('outcome', outcome);
        held.release();
        await db.close();
      }
      main().then(() => console.log('main done'));
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('outcome AcquireTimeoutError\nmain done\n');
    expect(result.code).toBe(0);
  });

  test('once the waiter is served, its (long) deadline no longer holds the process', async () => {
    const dir = tempDir();
    const result = await runScript(`
      import { DatabaseManager } from ${JSON.stringify(SRC)};
      const db = new DatabaseManager({ filename: ${JSON.stringify(path.join(dir, 'w.db'))}, poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
      const held = await db.getConnection();
      setTimeout(() => held.release(), 20);
      const lease = await db.getConnection({ timeoutMs: 600_000 });
      lease.release();
      console.log('served');
      // no close(): an idle pool must not keep the process alive either
    `);
    expect(result.stdout).toBe('served\n');
    expect(result.code).toBe(0);
    expect(result.elapsedMs).toBeLessThan(15_000);
  });

  test('a writer queued for the write lock keeps the process alive, and its (long) deadline ends with the wait', async () => {
    const dir = tempDir();
    const result = await runScript(`
      import { DatabaseManager } from ${JSON.stringify(SRC)};
      const db = new DatabaseManager({ filename: ${JSON.stringify(path.join(dir, 'w.db'))}, poolSize: 2, acquireTimeoutMs: 600_000 });
      await db.exec('CREATE TABLE t (x)');
      let release;
      const first = db.transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (1)');
        await new Promise((resolve) => (release = resolve));
      });
      // Queued behind the first transaction: nothing but the pool keeps the process alive now.
      const second = db.transaction((tx) => tx.run('INSERT INTO t VALUES (2)'));
      // An unref'd timer: only the pool's own deadline task may keep the process alive meanwhile.
      setTimeout(() => release(), 50).unref();
      await Promise.all([first, second]);
      console.log('rows', (await db.get('SELECT count(*) AS n FROM t')).n);
      // no close(): the served writer's deadline must not hold the process for 10 minutes
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('rows 2\n');
    expect(result.code).toBe(0);
    expect(result.elapsedMs).toBeLessThan(15_000);
  });
});
