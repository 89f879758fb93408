import Database from 'better-sqlite3';
import { describe, expect, test, vi } from 'vitest';
import { ConnectionHealthManager, DatabaseManager, HealthCheckConfig, HealthyConnection, type DatabaseManagerOptions } from '../src/index.js';
import { advance, captureLogger, settled, tempDbPath, track, trackDb, useFakeClock } from './helpers/temp-db.js';

/** A pool whose probe `SELECT flaky()` fails on the connections in `failing`. */
function makePool(options: Partial<DatabaseManagerOptions> = {}) {
  const failing = new Set<Database.Database>();
  const opened: Database.Database[] = [];
  let duringProbe: ((db: Database.Database) => void) | undefined;
  const pool = track(new DatabaseManager({
    filename: tempDbPath(),
    ...options,
    healthCheckConfig: { query: 'SELECT flaky()', ...(options.healthCheckConfig as object) },
    onConnect: (db) => {
      opened.push(db);
      db.function('flaky', () => {
        duringProbe?.(db);
        if (failing.has(db)) throw new Error('flaky fails here');
        return 1;
      });
    },
  }));
  return { pool, failing, opened, setDuringProbe: (fn: typeof duringProbe) => { duringProbe = fn; } };
}

describe('startMonitoring / stopMonitoring', () => {
  test('initialize() starts monitoring: every intervalMs the idle connections are probed', async () => {
    useFakeClock();
    const logger = captureLogger();
    const { pool } = makePool({ poolSize: 4, healthCheckConfig: { minHealthyConnections: 3, intervalMs: 10_000 }, logger });
    await pool.initialize();
    expect(pool.healthManager.monitoring).toBe(true);
    const checks = () => pool.getConnectionStatsSync().lifetime.healthChecks;
    expect(checks()).toBe(3);
    await advance(9_999);
    expect(checks()).toBe(3);
    await advance(1);
    expect(checks()).toBe(6);
    await advance(10_000);
    expect(checks()).toBe(9);
    expect(logger.messages('debug').filter((m) => m.includes('(monitor)'))).toHaveLength(6);
  });

  test('leased connections are not probed by the monitor, but are counted in the statistics', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 3, intervalMs: 1000 } });
    await pool.initialize();
    const lease = await pool.getConnection();
    const before = lease.healthyConnection.metrics.healthCheckCount;
    const result = await pool.healthManager.runCycle();
    expect(result).toEqual({ retired: 0, probed: 2, failed: 0 });
    expect(lease.healthyConnection.metrics.healthCheckCount).toBe(before);
    expect(pool.healthManager.getPoolStatistics(pool)).toMatchObject({ totalConnections: 3, healthyConnections: 3 });
    lease.release();
  });

  test('probes in batches of batchSize, letting callers in between batches', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 5, healthCheckConfig: { minHealthyConnections: 5, batchSize: 2 } });
    await pool.initialize();
    const checks = () => pool.getConnectionStatsSync().lifetime.healthChecks;
    const cycle = pool.healthManager.runCycle();
    // The first batch runs at once (its probes settle within promise turns), then the cycle yields a turn of the event loop.
    for (let turns = 0; (checks() < 5 + 2 || pool.getConnectionStatsSync().availableConnections < 5) && turns < 1000; turns++) await Promise.resolve();
    expect(checks()).toBe(5 + 2);
    const lease = await pool.getConnection(); // a caller gets in between batches...
    expect(lease.healthyConnection.metrics.healthCheckCount).toBe(2); // ...the top idle one, probed in batch 1
    expect(checks()).toBe(5 + 2);
    const result = await cycle;
    expect(result).toEqual({ retired: 0, probed: 5, failed: 0 });
    expect(checks()).toBe(10);
    lease.release();
  });

  test('a connection is reserved while it is probed: a borrower cannot get it mid-probe', async () => {
    useFakeClock();
    const { pool, setDuringProbe } = makePool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.initialize();
    const seen: { available: number; poolSize: number; pending: number }[] = [];
    let borrowed: Promise<unknown> | undefined;
    setDuringProbe(() => {
      if (borrowed !== undefined) return;
      borrowed = pool.getConnection(); // asks for the very connection being probed
      const stats = pool.getConnectionStatsSync();
      seen.push({ available: stats.availableConnections, poolSize: stats.poolSize, pending: stats.pendingRequests });
    });
    const result = await pool.healthManager.runCycle();
    setDuringProbe(undefined);
    expect(result).toMatchObject({ probed: 1, failed: 0 });
    expect(seen).toEqual([{ available: 0, poolSize: 1, pending: 1 }]);
    const lease = (await borrowed) as { connection: Database.Database; release(): void };
    expect(lease.connection.open).toBe(true); // served once the probe was over
    lease.release();
  });

  test('stopMonitoring ends the cycles; the guide usage with a separate manager works', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 2, healthCheckConfig: { intervalMs: 1000 } });
    await pool.initialize();
    await pool.healthManager.stopMonitoring();
    expect(pool.healthManager.monitoring).toBe(false);
    const checks = () => pool.getConnectionStatsSync().lifetime.healthChecks;
    await advance(10_000);
    expect(checks()).toBe(2);

    const manager = new ConnectionHealthManager(pool.healthCheckConfig);
    await manager.startMonitoring(pool);
    await manager.startMonitoring(pool); // twice: no second schedule
    await advance(1000);
    expect(checks()).toBe(4);
    const stats = manager.getPoolStatistics(pool);
    expect(stats.healthyConnections).toBe(2);
    await manager.stopMonitoring();
    await advance(5000);
    expect(checks()).toBe(4);
  });

  test('a second manager started and stopped on a pool (the guide usage) leaves the pool own monitoring running', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 2, healthCheckConfig: { intervalMs: 1000 } });
    await pool.initialize();
    const checks = () => pool.getConnectionStatsSync().lifetime.healthChecks;
    const manager = new ConnectionHealthManager(pool.healthCheckConfig);
    await manager.startMonitoring(pool);
    await advance(1000);
    expect(checks()).toBe(2 + 2 + 2); // both monitors ran a cycle
    await manager.stopMonitoring();
    expect(pool.healthManager.monitoring).toBe(true);
    await advance(1000);
    expect(checks()).toBe(8); // the pool's own monitor still runs
  });

  test('intervalMs changed at run time applies from the next cycle', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 2, healthCheckConfig: { intervalMs: 10_000 } });
    await pool.initialize();
    const checks = () => pool.getConnectionStatsSync().lifetime.healthChecks;
    pool.healthCheckConfig.intervalMs = 1000;
    await advance(10_000); // the cycle already scheduled keeps its time
    expect(checks()).toBe(4);
    await advance(1000);
    expect(checks()).toBe(6);
  });

  test('with health checks disabled, initialize() does not monitor', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 2, healthCheckConfig: { enabled: false } });
    await pool.initialize();
    expect(pool.healthManager.monitoring).toBe(false);
    expect(pool.getConnectionStatsSync().lifetime.healthChecks).toBe(0);
  });
});

describe('replacing and refilling', () => {
  test('a connection that fails more than maxConsecutiveFailures monitor probes in a row is replaced; the pool refills', async () => {
    useFakeClock();
    const logger = captureLogger();
    const { pool, failing, opened } = makePool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 2, maxConsecutiveFailures: 2 }, logger });
    await pool.initialize();
    failing.add(opened[0]!);
    expect(await pool.healthManager.runCycle()).toEqual({ retired: 0, probed: 2, failed: 1 });
    expect(await pool.healthManager.runCycle()).toEqual({ retired: 0, probed: 2, failed: 1 });
    expect(opened[0]!.open).toBe(true);
    expect(await pool.healthManager.runCycle()).toEqual({ retired: 0, probed: 2, failed: 1 });
    expect(opened[0]!.open).toBe(false);
    const stats = pool.getConnectionStatsSync();
    expect(stats).toMatchObject({ poolSize: 2, healthyConnections: 2, unhealthyConnections: 0 });
    expect(stats.lifetime).toMatchObject({ created: 3, healthCheckFailures: 3 });
    expect(stats.lifetime.closed.unhealthy).toBe(1);
    expect(logger.messages('warn').filter((m) => m.startsWith('Health check failed on conn_1 (monitor)'))).toHaveLength(3);
    expect(logger.messages('warn').some((m) => m.startsWith('Closed conn_1 (unhealthy)'))).toBe(true);
  });

  test('expired idle connections (maxAgeMs) are retired and the pool refills to minHealthyConnections', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 4, healthCheckConfig: { minHealthyConnections: 2, maxAgeMs: 60_000, intervalMs: 30_000 } });
    await pool.initialize();
    const extra = [await pool.getConnection(), await pool.getConnection(), await pool.getConnection()];
    for (const lease of extra) lease.release();
    expect(pool.getConnectionStatsSync().poolSize).toBe(3);
    await advance(60_000); // cycles at 30 s and 60 s: not older than maxAgeMs yet
    expect(pool.getConnectionStatsSync().lifetime.closed.max_age).toBe(0);
    await advance(30_000); // the cycle at 90 s finds them past it
    await settled(pool);
    const stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.max_age).toBe(3);
    expect(stats.poolSize).toBe(2);
    expect(stats.healthyConnections).toBe(2);
    expect([...pool.connections()].every((c) => c.ageMs < 60_000)).toBe(true);
  });

  test('stale idle connections (maxIdleTimeMs) are closed rather than lent, and the pool refills', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 4, healthCheckConfig: { minHealthyConnections: 1, maxIdleTimeMs: 5000, intervalMs: 60_000 } });
    await pool.initialize();
    const first = [...pool.connections()][0]!;
    await advance(5001);
    expect(first.status).toBe('stale');
    expect(pool.healthManager.getPoolStatistics(pool).staleConnections).toBe(1);
    const lease = await pool.getConnection(); // not the stale one
    expect(lease.healthyConnection).not.toBe(first);
    // A connection retired at a limit is closed in a macrotask, outside the borrower's call.
    await settled(pool);
    expect(first.connection.open).toBe(false);
    expect(pool.getConnectionStatsSync().lifetime.closed.idle).toBe(1);
    lease.release();
  });

  test('connections used more than maxUsage times are retired on release (max_usage)', async () => {
    const { pool } = makePool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1, maxUsage: 3 } });
    const lease = await pool.getConnection();
    for (let i = 0; i < 4; i++) await lease.get('SELECT 1');
    expect(lease.healthyConnection.status).toBe('expired');
    lease.release();
    await settled(pool); // the replacement opens in the background, never inside release()
    const stats = pool.getConnectionStatsSync();
    expect(stats.lifetime.closed.max_usage).toBe(1);
    expect(stats.poolSize).toBe(1);
    expect(stats.totalUsage).toBe(4); // the closed connection's uses still count
  });
});

describe('getPoolStatistics', () => {
  test('has the guide fields, counts leased connections, and averages over open connections', async () => {
    useFakeClock();
    const { pool } = makePool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 2 } });
    await pool.initialize();
    await advance(4000);
    const lease = await pool.getConnection();
    await lease.get('SELECT 1');
    await lease.get('SELECT 2');
    await lease.get('SELECT 3');
    await lease.get('SELECT 4');
    expect(pool.healthManager.getPoolStatistics(pool)).toEqual({
      totalConnections: 2,
      healthyConnections: 2,
      unhealthyConnections: 0,
      staleConnections: 0,
      expiredConnections: 0,
      healthCheckSuccessRate: 1,
      averageAge: 4,
      averageUsage: 2,
      totalUsage: 4,
    });
    lease.release();
  });

  test('the success rate covers the pool whole life, not only the connections alive now', async () => {
    useFakeClock();
    const { pool, failing, opened } = makePool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 2, maxConsecutiveFailures: 0 } });
    await pool.initialize(); // 2 passing probes
    failing.add(opened[0]!);
    await pool.healthManager.runCycle(); // 1 failure (replaced), 1 pass; the replacement passes its first probe
    const stats = pool.healthManager.getPoolStatistics(pool);
    const alive = [...pool.connections()];
    expect(alive.every((c) => c.metrics.healthCheckFailures === 0)).toBe(true); // survivors never failed...
    expect(stats.healthCheckSuccessRate).toBeCloseTo(4 / 5, 10); // ...but the pool did, once in five
    expect(pool.getConnectionStatsSync().lifetime).toMatchObject({ healthChecks: 5, healthCheckFailures: 1 });
  });

  test('works on any iterable of HealthyConnection (its own counters only)', async () => {
    useFakeClock();
    const manager = new ConnectionHealthManager(new HealthCheckConfig({ maxUsage: 1 }));
    const make = () => new HealthyConnection({ connection: trackDb(new Database(':memory:')), config: manager.config });
    const [a, b] = [make(), make()];
    await a.probe();
    b.recordUsage(1);
    b.recordUsage(1);
    vi.advanceTimersByTime(2000);
    expect(manager.getPoolStatistics([a, b])).toEqual({
      totalConnections: 2,
      healthyConnections: 1,
      unhealthyConnections: 0,
      staleConnections: 0,
      expiredConnections: 1,
      healthCheckSuccessRate: 1,
      averageAge: 2,
      averageUsage: 1,
      totalUsage: 2,
    });
    expect(manager.getPoolStatistics([])).toMatchObject({ totalConnections: 0, averageAge: 0, averageUsage: 0, healthCheckSuccessRate: 1 });
  });
});
