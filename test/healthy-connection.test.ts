import Database from 'better-sqlite3';
import { beforeEach, describe, expect, test, vi } from 'vitest';
import { ConnectionStatus, HealthCheckConfig, HealthyConnection, type HealthCheckOptions, type HealthCheckResult } from '../src/index.js';
import { tempDbPath, trackDb, useFakeClock } from './helpers/temp-db.js';

/** Switches the probe query `SELECT flaky()` between passing and failing (a plain SQL error, not fatal). */
let failing = false;

function open(options: HealthCheckOptions = {}, onHealthCheck?: (c: HealthyConnection, r: HealthCheckResult) => void): HealthyConnection {
  const db = trackDb(new Database(tempDbPath()));
  db.function('flaky', () => {
    if (failing) throw new Error('flaky says no');
    return 1;
  });
  // A probe that takes `slowMs` of (fake) time.
  db.function('slow', (ms: unknown) => {
    vi.advanceTimersByTime(Number(ms));
    return 1;
  });
  return new HealthyConnection({
    connection: db,
    config: { maxIdleTimeMs: Infinity, ...options },
    connectionId: 'conn_test',
    onHealthCheck,
  });
}

beforeEach(() => {
  failing = false;
  useFakeClock();
});

test('fake timers drive performance.now(), the clock the connection reads', () => {
  const start = performance.now();
  vi.advanceTimersByTime(1234);
  expect(performance.now() - start).toBe(1234);
});

describe('a new connection', () => {
  test('is healthy, unused and unprobed, with the guide stats', () => {
    const connection = open();
    expect(connection.status).toBe(ConnectionStatus.HEALTHY);
    expect(connection.isHealthy).toBe(true);
    expect(connection.getStats()).toEqual({
      connectionId: 'conn_test',
      status: 'healthy',
      ageSeconds: 0,
      idleSeconds: 0,
      usageCount: 0,
      healthCheckCount: 0,
      healthCheckFailures: 0,
      healthCheckSuccessRate: 1,
      averageQueryTime: 0,
      isHealthy: true,
      isExpired: false,
      isStale: false,
    });
    expect(connection.metrics).toMatchObject({ usageCount: 0, healthCheckCount: 0, consecutiveFailures: 0, lastHealthCheckAt: undefined });
  });

  test('gets a conn_<n> id when none is given, and takes a plain options config', () => {
    const db = trackDb(new Database(tempDbPath()));
    const connection = new HealthyConnection({ connection: db, config: { timeoutMs: 50 } });
    expect(connection.connectionId).toMatch(/^conn_\d+$/);
    expect(connection.config).toBeInstanceOf(HealthCheckConfig);
    expect(connection.config.timeoutMs).toBe(50);
    expect(connection.connection).toBe(db);
  });
});

describe('status rules (the guide "Automatic Connection Management")', () => {
  test('expired once older than maxAgeMs (not at exactly maxAgeMs)', () => {
    const connection = open({ maxAgeMs: 1000 });
    vi.advanceTimersByTime(1000);
    expect(connection.status).toBe('healthy');
    expect(connection.getStats().ageSeconds).toBe(1);
    vi.advanceTimersByTime(1);
    expect(connection.status).toBe('expired');
    expect(connection.isExpired).toBe(true);
    expect(connection.getStats()).toMatchObject({ status: 'expired', isExpired: true, isHealthy: false });
  });

  test('expired once used more than maxUsage times (usage > maxUsage)', () => {
    const connection = open({ maxUsage: 3 });
    for (let i = 0; i < 3; i++) connection.recordUsage();
    expect(connection.status).toBe('healthy');
    connection.recordUsage();
    expect(connection.metrics.usageCount).toBe(4);
    expect(connection.status).toBe('expired');
  });

  test('stale once idle longer than maxIdleTimeMs; a use makes it fresh again', () => {
    const connection = open({ maxIdleTimeMs: 100 });
    vi.advanceTimersByTime(100);
    expect(connection.status).toBe('healthy');
    vi.advanceTimersByTime(1);
    expect(connection.status).toBe('stale');
    expect(connection.isStale).toBe(true);
    expect(connection.getStats().idleSeconds).toBeCloseTo(0.101, 6);
    connection.recordUsage(1);
    expect(connection.status).toBe('healthy');
    vi.advanceTimersByTime(101);
    connection.touch();
    expect(connection.status).toBe('healthy');
  });

  test('probes do not count as use: a connection probed all the time still goes stale', async () => {
    const connection = open({ maxIdleTimeMs: 100, cacheDurationMs: 0 });
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(30);
      expect((await connection.probe()).passed).toBe(true);
    }
    expect(connection.metrics.usageCount).toBe(0);
    expect(connection.status).toBe('stale');
  });

  test('unhealthy after MORE than maxConsecutiveFailures failed probes in a row', async () => {
    const connection = open({ query: 'SELECT flaky()', maxConsecutiveFailures: 3 });
    failing = true;
    for (let i = 1; i <= 3; i++) {
      expect((await connection.probe({ force: true })).passed).toBe(false);
      expect(connection.metrics.consecutiveFailures).toBe(i);
      expect(connection.status).toBe('healthy'); // 3 is not more than 3
    }
    const fourth = await connection.probe({ force: true });
    expect(fourth).toMatchObject({ passed: false, cached: false, statusBefore: 'healthy', statusAfter: 'unhealthy' });
    expect(fourth.error?.message).toContain('flaky says no');
    expect(connection.status).toBe('unhealthy');
    expect(connection.unhealthyBecause).toBe('failures');
  });

  test('a passing probe resets the run of failures', async () => {
    const connection = open({ query: 'SELECT flaky()', maxConsecutiveFailures: 3 });
    for (let round = 0; round < 3; round++) {
      failing = true;
      for (let i = 0; i < 3; i++) await connection.probe({ force: true });
      expect(connection.metrics.consecutiveFailures).toBe(3);
      failing = false;
      expect((await connection.probe({ force: true })).passed).toBe(true);
      expect(connection.metrics.consecutiveFailures).toBe(0);
    }
    expect(connection.status).toBe('healthy');
    expect(connection.getStats()).toMatchObject({ healthCheckCount: 12, healthCheckFailures: 9, healthCheckSuccessRate: 3 / 12 });
  });

  test('maxConsecutiveFailures 0: the first failure makes it unhealthy', async () => {
    const connection = open({ query: 'SELECT flaky()', maxConsecutiveFailures: 0 });
    failing = true;
    await connection.probe();
    expect(connection.status).toBe('unhealthy');
  });

  test('an unhealthy verdict is not undone by a later passing probe', async () => {
    const connection = open({ query: 'SELECT flaky()', maxConsecutiveFailures: 0 });
    failing = true;
    await connection.probe();
    failing = false;
    const result = await connection.probe({ force: true });
    expect(result.error).toBeUndefined();
    expect(result.passed).toBe(false);
    expect(connection.status).toBe('unhealthy');
  });

  test('unhealthy outranks expired, which outranks stale', () => {
    const connection = open({ maxAgeMs: 10, maxIdleTimeMs: 5 });
    vi.advanceTimersByTime(6);
    expect(connection.status).toBe('stale');
    vi.advanceTimersByTime(5);
    expect(connection.status).toBe('expired');
    expect(connection.isStale).toBe(true);
    connection.markUnhealthy();
    expect(connection.status).toBe('unhealthy');
    expect(connection.unhealthyBecause).toBe('error');
  });

  test('a closed handle is unhealthy', () => {
    const connection = open();
    void connection.close();
    void connection.close(); // safe twice
    expect(connection.connection.open).toBe(false);
    expect(connection.status).toBe('unhealthy');
  });

  test('limits changed at run time apply at once (the config is live)', () => {
    const config = new HealthCheckConfig({ maxUsage: 100, maxIdleTimeMs: Infinity });
    const db = trackDb(new Database(tempDbPath()));
    const connection = new HealthyConnection({ connection: db, config });
    expect(connection.config).toBe(config);
    connection.recordUsage();
    connection.recordUsage();
    expect(connection.status).toBe('healthy');
    config.maxUsage = 1;
    expect(connection.status).toBe('expired');
  });
});

describe('probe cache', () => {
  test('a result is reused for cacheDurationMs, then probed again', async () => {
    const connection = open({ cacheDurationMs: 5000 });
    expect(connection.needsProbe()).toBe(true);
    expect(await connection.probe()).toMatchObject({ passed: true, cached: false });
    vi.advanceTimersByTime(4999);
    expect(connection.needsProbe()).toBe(false);
    expect(await connection.probe()).toMatchObject({ passed: true, cached: true });
    expect(connection.metrics.healthCheckCount).toBe(1);
    vi.advanceTimersByTime(1);
    expect(connection.needsProbe()).toBe(true);
    expect(await connection.probe()).toMatchObject({ passed: true, cached: false });
    expect(connection.metrics.healthCheckCount).toBe(2);
  });

  test('force probes even when the cache is fresh', async () => {
    const connection = open();
    await connection.validateHealth();
    await connection.validateHealth({ force: true });
    await connection.validateHealth({ force: true });
    expect(connection.metrics.healthCheckCount).toBe(3);
  });

  test('a cached failure is reported as a failure without probing, and borrowers see it as fresh', async () => {
    const connection = open({ query: 'SELECT flaky()' });
    failing = true;
    expect(await connection.validateHealth()).toBe(false);
    failing = false;
    expect(connection.hasFreshFailure()).toBe(true);
    const cached = await connection.probe();
    expect(cached).toMatchObject({ passed: false, cached: true });
    expect(cached.error?.message).toContain('flaky says no');
    expect(connection.metrics.healthCheckCount).toBe(1);
    vi.advanceTimersByTime(5000);
    expect(connection.hasFreshFailure()).toBe(false);
    expect(await connection.validateHealth()).toBe(true);
  });

  test('a cached pass is not reported for a handle closed since', async () => {
    const connection = open();
    expect(await connection.validateHealth()).toBe(true);
    connection.connection.close();
    expect(await connection.validateHealth()).toBe(false);
  });

  test('onHealthCheck is called for every probe that ran, not for cached results', async () => {
    const seen: HealthCheckResult[] = [];
    const connection = open({}, (c, r) => {
      expect(c.connectionId).toBe('conn_test');
      seen.push(r);
    });
    await connection.probe();
    await connection.probe();
    await connection.probe({ force: true });
    expect(seen).toHaveLength(2);
    expect(seen.every((r) => r.passed && !r.cached)).toBe(true);
  });

  test('disabled: always passes, never probes', async () => {
    const connection = open({ enabled: false, query: 'SELECT flaky()' });
    failing = true;
    expect(await connection.validateHealth({ force: true })).toBe(true);
    expect(connection.needsProbe()).toBe(false);
    expect(connection.metrics.healthCheckCount).toBe(0);
  });
});

describe('probe timeout', () => {
  test('a probe slower than timeoutMs fails (not fatally), one within it passes', async () => {
    const connection = open({ timeoutMs: 100, query: 'SELECT slow(100)' });
    expect(await connection.probe({ force: true })).toMatchObject({ passed: true, durationMs: 100 });
    connection.config.query = 'SELECT slow(101)';
    const result = await connection.probe({ force: true });
    expect(result.passed).toBe(false);
    expect(result.durationMs).toBe(101);
    expect(result.error?.code).toBe('SQLITE_POOL_PROBE_TIMEOUT');
    expect(result.error?.fatal).toBe(false);
    expect(result.error?.message).toContain('more than timeoutMs (100 ms)');
    expect(connection.status).toBe('healthy');
    expect(connection.metrics.lastHealthCheckAt).toBe(result.startedAt + 101);
  });
});

describe('usage metrics', () => {
  test('recordUsage counts uses and their time; averageQueryTime is in seconds per statement', () => {
    const connection = open();
    connection.recordUsage(2);
    connection.recordUsage(4);
    connection.recordUsage(); // a use with no timing
    expect(connection.metrics).toMatchObject({ usageCount: 3, totalQueryTimeMs: 6 });
    expect(connection.getStats().averageQueryTime).toBeCloseTo(0.002, 9);
  });

  test('recordUsage resets the idle time', () => {
    const connection = open();
    vi.advanceTimersByTime(500);
    expect(connection.idleMs).toBe(500);
    connection.recordUsage(1);
    expect(connection.idleMs).toBe(0);
    expect(connection.ageMs).toBe(500);
  });
});
