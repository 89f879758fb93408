/**
 * Faults on real SQLite files. For each: what the pool reports (statistics, statuses, the
 * closed-by-reason counters), that no caller is handed the broken connection, and that the pool is
 * back at minHealthyConnections once the fault clears. Monitoring is driven with runCycle() and
 * fake timers; the only real waiting is SQLite's own busy wait under a lock (tens of ms).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import {
  AcquireTimeoutError,
  ConnectionCreateError,
  DatabaseManager,
  Lease,
  LeaseReleasedError,
  PoolClosedError,
  type DatabaseManagerOptions,
} from '../src/index.js';
import { captureRejection } from './helpers/capture-error.js';
import { advance, captureLogger, flush, settled, tempDir, track, trackDb, useFakeClock } from './helpers/temp-db.js';

const TABLE_CHECK = 'SELECT COUNT(*) FROM sqlite_master LIMIT 1';
const MAIN_WRITE_CHECK = 'BEGIN IMMEDIATE; ROLLBACK;';

function setup(options: Partial<DatabaseManagerOptions> = {}) {
  const dir = tempDir();
  const file = path.join(dir, 'app.db');
  const logger = captureLogger();
  const pool = track(new DatabaseManager({
    filename: file,
    poolSize: 3,
    logger,
    ...options,
    healthCheckConfig: { minHealthyConnections: 2, ...(options.healthCheckConfig as object) },
  }));
  return { dir, file, pool, logger };
}

async function seed(pool: DatabaseManager): Promise<void> {
  await pool.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT); INSERT INTO accounts (owner) VALUES ('ada'), ('grace')");
}

function statuses(pool: DatabaseManager): string[] {
  return [...pool.connections()].map((c) => c.status);
}

function closedTotal(pool: DatabaseManager): number {
  return Object.values(pool.getConnectionStatsSync().lifetime.closed).reduce((a, b) => a + b, 0);
}

describe('the database file is deleted while the pool runs', () => {
  test('every connection to the unlinked file is retired before a borrower gets it, and no empty database appears at the path', async () => {
    useFakeClock();
    const { file, pool } = setup({ healthCheckConfig: { cacheDurationMs: 0 } });
    await seed(pool);
    const before = [...pool.connections()];
    expect(before).toHaveLength(2);
    fs.unlinkSync(file); // as `rm app.db` would: the -wal and -shm files stay

    // A borrower probes first (cacheDurationMs 0): it is never handed a connection to the old inode,
    // and the pool does not open a new, empty database in its place.
    const borrowing = captureRejection(pool.getConnection({ timeoutMs: 1000 }));
    await advance(1000);
    const error = (await borrowing) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(((error.cause as Error).cause as { code: string }).code).toBe('SQLITE_CANTOPEN');
    expect(fs.existsSync(file)).toBe(false);

    const stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.error).toBe(2);
    expect(stats.lifetime.healthCheckFailures).toBe(2);
    expect(stats.lifetime.openFailures).toBeGreaterThan(0);
    expect(stats.poolSize).toBe(0);
    expect(before.every((c) => !c.connection.open)).toBe(true);
  });

  test('the monitor finds it too (fatal on the first probe), and cannot refill until the file is back', async () => {
    const { file, pool } = setup();
    await seed(pool);
    fs.unlinkSync(file);
    expect(await pool.healthManager.runCycle()).toEqual({ retired: 0, probed: 2, failed: 2 });
    const stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 0, unhealthyConnections: 0 });
    expect(stats.lifetime.closed.error).toBe(2);
    expect(stats.lifetime.openFailures).toBeGreaterThan(0);
  });

  test('LIMIT: within cacheDurationMs of the last passing probe, a borrower can still get a connection to the deleted file', async () => {
    // The borrow-time probe runs only when the cached result is older than cacheDurationMs
    // (the guide's cache). Until then, or until the next monitoring cycle, the deletion is unseen.
    useFakeClock();
    const { file, pool } = setup();
    await seed(pool);
    const before = [...pool.connections()];
    fs.unlinkSync(file);
    const lease = await pool.getConnection();
    expect(before).toContain(lease.healthyConnection);
    expect(await lease.all('SELECT owner FROM accounts')).toHaveLength(2); // reads the unlinked inode
    lease.release();
    await advance(5000);
    // Cache expired: probed and retired, and nothing to replace it with until the file is back.
    const next = captureRejection(pool.getConnection({ timeoutMs: 100 }));
    await advance(100);
    expect(await next).toBeInstanceOf(AcquireTimeoutError);
    expect(pool.getConnectionStatsSync().lifetime.closed.error).toBe(2);
  });

  test('the pool cannot refill until the file is back (fileMustExist: false created it once, not again): acquire times out with the cause; then it recovers', async () => {
    useFakeClock();
    const { file, pool } = setup({ fileMustExist: false, acquireTimeoutMs: 1000 });
    await seed(pool);
    await pool.healthManager.runCycle();
    const backup = `${file}.bak`;
    await pool.withConnection((db) => db.backup(backup));
    fs.unlinkSync(file);
    await pool.healthManager.runCycle();
    let stats = pool.getConnectionStatsSync();
    expect(stats.poolSize).toBe(0);
    expect(stats.lifetime.closed.error).toBe(2);
    const rejected = captureRejection(pool.getConnection());
    await advance(1000);
    const error = (await rejected) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.pool).toMatchObject({ used: 0, idle: 0 });
    expect(error.cause).toBeInstanceOf(ConnectionCreateError);
    expect(((error.cause as Error).cause as { code: string }).code).toBe('SQLITE_CANTOPEN');

    fs.copyFileSync(backup, file); // the fault clears
    await advance(5000); // the refill retry (backing off) opens connections again
    stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2 });
    expect(await pool.all('SELECT owner FROM accounts ORDER BY id')).toEqual([{ owner: 'ada' }, { owner: 'grace' }]);
  });
});

describe('the database file is replaced by another file', () => {
  function replaceWithOrders(dir: string, file: string): void {
    const incoming = path.join(dir, 'incoming.db');
    const other = new Database(incoming);
    other.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO orders VALUES (7)');
    other.close();
    fs.renameSync(incoming, file); // an atomic deploy of a new database file
  }

  test('rollback journal: connections to the old file are replaced; callers see the new file', async () => {
    const { dir, file, pool, logger } = setup({ pragmas: { journal_mode: 'DELETE' }, healthCheckConfig: { cacheDurationMs: 0 } });
    await seed(pool);
    const before = [...pool.connections()];
    replaceWithOrders(dir, file);

    const lease = await pool.getConnection();
    expect(before).not.toContain(lease.healthyConnection);
    expect(await lease.all('SELECT id FROM orders')).toEqual([{ id: 7 }]);
    await expect(lease.all('SELECT * FROM accounts')).rejects.toThrow(/no such table/);
    lease.release();
    await pool.healthManager.runCycle();
    const stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.error).toBe(2);
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2 });
    expect(before.every((c) => !c.connection.open)).toBe(true);
    expect(logger.messages('warn').some((m) => m.includes('was replaced by another file'))).toBe(true);
  });

  test('FINDING (WAL): the pool replaces every connection to the old file, but SQLite applies the old -wal to the new file, so callers see the old content', async () => {
    // SQLite binds the -wal and -shm files to the database by path. Renaming a new database over a
    // WAL database whose connections are open leaves the old WAL next to it, and SQLite reads (and
    // later checkpoints) its pages into the new file. The pool does its part (no connection to the
    // old inode survives), but a WAL database must be replaced with its -wal/-shm, while closed, or
    // through the backup API.
    const { dir, file, pool } = setup({ healthCheckConfig: { cacheDurationMs: 0 } });
    await seed(pool);
    const before = [...pool.connections()];
    replaceWithOrders(dir, file);
    await pool.healthManager.runCycle();
    expect(pool.getConnectionStatsSync().lifetime.closed.error).toBe(2);
    expect(before.every((c) => !c.connection.open)).toBe(true);
    const lease = await pool.getConnection();
    expect(before).not.toContain(lease.healthyConnection);
    expect(await lease.all("SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([{ name: 'accounts' }]);
    lease.release();
    expect(pool.getConnectionStatsSync()).toMatchObject({ poolSize: 2, healthyConnections: 2 });
  });
});

describe('the database file is overwritten with garbage (same inode)', () => {
  function overwrite(file: string): Buffer {
    const original = fs.readFileSync(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, crypto.randomBytes(original.length), 0, original.length, 0);
    fs.closeSync(fd);
    return original;
  }

  test('FINDING (WAL, the default): a connection notices only if its page cache was invalidated; the one that ran the checkpoint keeps serving, and passes even integrity_check; new connections fail with SQLITE_NOTADB', async () => {
    // After a checkpoint that resets the WAL, a connection that last read before the reset drops
    // its cache, re-reads the file and gets SQLITE_NOTADB (fatal: replaced). The connection that
    // ran the checkpoint still has every page cached and sees nothing wrong. Without a checkpoint
    // the pages live in the WAL and no connection notices at all.
    useFakeClock();
    const { file, pool } = setup({ acquireTimeoutMs: 1000, healthCheckConfig: { query: 'PRAGMA integrity_check(1)', cacheDurationMs: 0 } });
    await seed(pool);
    await pool.healthManager.runCycle(); // both connections have read the database
    const checkpointer = await pool.withConnection((db, lease) => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      return lease.healthyConnection;
    });
    const original = overwrite(file);
    expect(await pool.healthManager.runCycle()).toEqual({ retired: 0, probed: 2, failed: 1 });
    let stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.error).toBe(1);
    expect(stats.poolSize).toBe(1); // the refill cannot open a connection on garbage
    expect([...pool.connections()]).toEqual([checkpointer]);
    expect(checkpointer.status).toBe('healthy');
    expect(await pool.all('SELECT owner FROM accounts ORDER BY id')).toEqual([{ owner: 'ada' }, { owner: 'grace' }]);
    // A second caller needs a new connection: it waits until the deadline, and is told why.
    const held = await pool.getConnection();
    const rejected = captureRejection(pool.getConnection());
    await advance(1000);
    const error = (await rejected) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(((error.cause as Error).cause as { code: string }).code).toBe('SQLITE_NOTADB');
    held.release();

    fs.writeFileSync(file, original); // restored
    await advance(5000);
    stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2 });
  });

  test('rollback journal + table check: the probe fails with SQLITE_NOTADB (fatal), connections are replaced once the file is restored', async () => {
    useFakeClock();
    const { file, pool, logger } = setup({
      acquireTimeoutMs: 1000,
      pragmas: { journal_mode: 'DELETE' },
      healthCheckConfig: { query: TABLE_CHECK },
    });
    await seed(pool);
    const original = overwrite(file);
    expect(await pool.healthManager.runCycle()).toMatchObject({ probed: 2, failed: 2 });
    let stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.error).toBe(2);
    expect(stats.poolSize).toBe(0); // no new connection can be opened on garbage
    expect(logger.messages('warn').some((m) => m.includes('file is not a database'))).toBe(true);
    const rejected = captureRejection(pool.getConnection());
    await advance(1000);
    const error = (await rejected) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.message).toContain('file is not a database');

    fs.writeFileSync(file, original); // restored from a backup
    await advance(5000);
    stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2 });
    expect(await pool.get('SELECT COUNT(*) AS n FROM accounts')).toEqual({ n: 2 });
  });

  test('rollback journal + SELECT 1: the probe cannot see it (it reads no page); the first real query fails and evicts the connection', async () => {
    const { file, pool } = setup({ pragmas: { journal_mode: 'DELETE' }, healthCheckConfig: { cacheDurationMs: 0 } });
    await seed(pool);
    overwrite(file);
    const lease = await pool.getConnection(); // the probe passed
    const error = await (async () => {
      try {
        await lease.all('SELECT * FROM accounts');
      } catch (caught) {
        return caught as { code: string };
      }
      return undefined;
    })();
    expect(error?.code).toBe('SQLITE_NOTADB');
    // NOTADB could concern an attached file: a deep probe (it reads this file's header) decides at release.
    const broken = lease.healthyConnection;
    lease.release();
    await settled(pool);
    expect(broken.connection.open).toBe(false);
    expect(pool.getConnectionStatsSync().lifetime.closed.error).toBe(1);
  });
});

describe('a connection is closed behind the pool back', () => {
  test('an idle connection closed by someone else is retired, not lent, and the pool refills', async () => {
    const { pool } = setup();
    await pool.initialize();
    const victim = [...pool.connections()][1]!; // the top of the idle stack: the next to be lent
    victim.connection.close();
    expect(victim.status).toBe('unhealthy');
    expect(pool.getConnectionStatsSync().unhealthyConnections).toBe(1);
    const lease = await pool.getConnection();
    expect(lease.healthyConnection).not.toBe(victim);
    lease.release();
    expect(pool.getConnectionStatsSync().lifetime.closed.error).toBe(1);
    await pool.healthManager.runCycle();
    expect(pool.getConnectionStatsSync()).toMatchObject({ poolSize: 2, healthyConnections: 2, unhealthyConnections: 0 });
  });

  test('the monitor retires a closed idle connection without probing it', async () => {
    const { pool } = setup();
    await pool.initialize();
    [...pool.connections()][0]!.connection.close();
    expect(await pool.healthManager.runCycle()).toEqual({ retired: 1, probed: 1, failed: 0 });
    expect(pool.getConnectionStatsSync()).toMatchObject({ poolSize: 2, healthyConnections: 2 });
  });
});

describe('another connection holds an exclusive lock', () => {
  test('a main-database write probe fails within its timeout; no caller gets a failed connection; the pool recovers when the lock goes', async () => {
    // The probe waits for the lock asynchronously (the event loop never sleeps in SQLite), up to
    // timeoutMs: the fake clock drives that wait, so the test takes no real time.
    useFakeClock();
    const { file, pool } = setup({
      poolSize: 2,
      acquireTimeoutMs: 100,
      healthCheckConfig: { query: MAIN_WRITE_CHECK, timeoutMs: 30, maxConsecutiveFailures: 1 },
    });
    await seed(pool);
    const locker = trackDb(new Database(file));
    locker.exec('BEGIN EXCLUSIVE');
    locker.exec("INSERT INTO accounts (owner) VALUES ('locker')");

    const cycle = pool.healthManager.runCycle();
    await advance(100);
    expect(await cycle).toEqual({ retired: 0, probed: 2, failed: 2 });
    expect(pool.getConnectionStatsSync().lifetime.healthCheckFailures).toBe(2);
    expect([...pool.connections()].map((c) => c.metrics.lastHealthCheckError?.code)).toEqual(['SQLITE_BUSY', 'SQLITE_BUSY']);
    expect(statuses(pool)).toEqual(['healthy', 'healthy']); // 1 failure is not more than 1
    const rejected = captureRejection(pool.getConnection());
    await advance(100);
    const error = (await rejected) as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.pool).toMatchObject({ used: 0, idle: 2 }); // two idle connections, both failed: not lent

    const second = pool.healthManager.runCycle();
    await advance(100);
    expect(await second).toMatchObject({ probed: 2, failed: 2 });
    await settled(pool);
    let stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.unhealthy).toBe(2); // failed probes past the limit: unhealthy, not broken
    expect(stats.lifetime.openFailures).toBeGreaterThan(0); // a new connection's first probe fails too

    locker.exec('ROLLBACK'); // the lock goes
    for (let i = 0; i < 20 && pool.getConnectionStatsSync().poolSize < 2; i++) {
      await advance(1000); // the refill retries, backing off
      await settled(pool);
    }
    stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2 });
    expect(await pool.get('SELECT COUNT(*) AS n FROM accounts')).toEqual({ n: 2 });
  });
});

describe('a lease is released inside an open transaction', () => {
  test('the pool rolls back, keeps the connection, and the write lock is free for others', async () => {
    const { pool, logger } = setup();
    await seed(pool);
    const lease = await pool.getConnection();
    const healthy = lease.healthyConnection;
    await lease.exec('BEGIN IMMEDIATE');
    await lease.run("INSERT INTO accounts (owner) VALUES ('uncommitted')");
    lease.release();
    expect(logger.messages('warn').some((m) => m.includes('released inside an open transaction'))).toBe(true);
    expect(healthy.status).toBe('healthy');
    expect(healthy.connection.inTransaction).toBe(false);
    // Another connection can take the write lock, and nobody sees the uncommitted row.
    await pool.transaction((tx) => tx.run("INSERT INTO accounts (owner) VALUES ('next')"));
    expect(await pool.all('SELECT owner FROM accounts ORDER BY id')).toEqual([{ owner: 'ada' }, { owner: 'grace' }, { owner: 'next' }]);
    expect(closedTotal(pool)).toBe(0);
    expect(pool.getConnectionStatsSync()).toMatchObject({ poolSize: 2, healthyConnections: 2 });
  });
});

describe('a SQL syntax error', () => {
  test('is the caller error: the connection stays healthy and in the pool', async () => {
    const { pool } = setup();
    await seed(pool);
    const ids = [...pool.connections()].map((c) => c.connectionId);
    for (let i = 0; i < 5; i++) {
      const error = (await captureRejection(pool.all('SELEC * FROM accounts'))) as { code: string };
      expect(error.code).toBe('SQLITE_ERROR');
    }
    expect((await captureRejection(pool.run('INSERT INTO accounts (id) VALUES (1)'))) as { code: string }).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect([...pool.connections()].map((c) => c.connectionId)).toEqual(ids);
    expect(statuses(pool)).toEqual(['healthy', 'healthy']);
    expect(closedTotal(pool)).toBe(0);
  });
});

describe('more concurrent callers than poolSize', () => {
  test('they queue first in, first out, at most poolSize run at once, and all finish', async () => {
    const { pool } = setup({ poolSize: 3 });
    await seed(pool);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const results = await Promise.all(Array.from({ length: 12 }, (_, n) => pool.withConnection(async (db) => {
      started.push(n);
      running++;
      peak = Math.max(peak, running);
      await flush();
      const row = db.prepare('SELECT COUNT(*) AS n FROM accounts').get() as { n: number };
      running--;
      return row.n;
    })));
    expect(results).toEqual(Array(12).fill(2));
    expect(peak).toBe(3);
    expect(started).toEqual([...started].sort((a, b) => a - b)); // FIFO
    expect(pool.getConnectionStatsSync()).toMatchObject({ poolSize: 3, usedConnections: 0, pendingRequests: 0 });
  });

  test('callers past the deadline get AcquireTimeoutError; the others are served; nothing leaks', async () => {
    useFakeClock();
    const { pool } = setup({ poolSize: 2, acquireTimeoutMs: 1000 });
    await pool.initialize();
    const holders = [await pool.getConnection(), await pool.getConnection()];
    const early = captureRejection(pool.getConnection());
    await advance(600);
    let late: Lease | undefined;
    void pool.getConnection().then((lease) => { late = lease; });
    await advance(400);
    expect(await early).toBeInstanceOf(AcquireTimeoutError);
    holders[0]!.release();
    await flush();
    expect(late).toBeInstanceOf(Lease); // its deadline (1600 ms) had not passed
    expect(pool.getConnectionStatsSync()).toMatchObject({ usedConnections: 2, pendingRequests: 0 });
    holders[1]!.release();
    late!.release();
    await advance(1000);
    const stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.timeouts).toBe(1);
    expect(stats).toMatchObject({ usedConnections: 0, availableConnections: 2, pendingRequests: 0 });
  });
});

describe('close with leases outstanding', () => {
  test('waiters are rejected, leases get the grace period, the rest is force-closed and reported; nothing is lent after', async () => {
    useFakeClock();
    const { pool, logger } = setup({ poolSize: 2, leakDetectionThresholdMs: 60_000 });
    await seed(pool);
    const returning = await pool.getConnection();
    const forgotten = await pool.getConnection();
    const waiter = captureRejection(pool.getConnection());
    const closing = pool.close({ timeoutMs: 1000 });
    expect(await waiter).toBeInstanceOf(PoolClosedError);
    await advance(500);
    returning.release();
    expect(returning.released).toBe(true);
    await advance(500);
    const report = await closing;
    expect(report.forcedLeases.map((f) => f.connectionId)).toEqual([forgotten.connectionId]);
    expect(report.forcedLeases[0]?.acquireStack).toContain('faults.test.ts');
    expect(forgotten.released).toBe(true); // the lease ended with the pool: its next statement fails loudly
    await expect(forgotten.run('SELECT 1')).rejects.toThrow(LeaseReleasedError);
    const stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 0, usedConnections: 0, initialized: false });
    expect(stats.lifetime.closed.shutdown).toBe(2);
    expect(await captureRejection(pool.getConnection())).toBeInstanceOf(PoolClosedError);
    expect(logger.messages('warn').some((m) => m.includes(`${forgotten.connectionId} was still leased after 1000 ms`))).toBe(true);
  });
});
