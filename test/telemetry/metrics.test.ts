import fs from 'node:fs';
import { AggregationTemporality, AggregationType, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DatabaseManager } from '../../src/pool/database-manager.js';
import { AcquireTimeoutError } from '../../src/errors.js';
import { CLOSE_REASONS, METRIC_DEFINITIONS, MICROSECOND_BUCKETS_SECONDS, type MetricDefinition, type MetricName } from '../../src/telemetry/metric-definitions.js';
import { settled } from '../helpers/settled.js';
import { seededFile } from '../contracts/support.js';
import { flush, histogram, histogramCount, metric, newPool, points, tempDir, telemetryHarness, usersPool, value } from './harness.js';

/** Every metric of METRIC_DEFINITIONS, looked up by name, after scripted workloads. */

const POOL = 'db.client.connection.pool.name';
const STATUSES = ['healthy', 'unhealthy', 'stale', 'expired'] as const;

function definition(name: MetricName): MetricDefinition {
  const found = METRIC_DEFINITIONS.find((d) => d.name === name);
  expect(found).toBeDefined();
  return found!;
}

const EXPECTED_TYPE = {
  histogram: DataPointType.HISTOGRAM,
  counter: DataPointType.SUM,
  observableUpDownCounter: DataPointType.SUM,
  observableGauge: DataPointType.GAUGE,
} as const;

/** A workload that makes every metric report: statements, a failure, a wait, a retirement. */
async function fullWorkload(pool: DatabaseManager): Promise<void> {
  await pool.initialize();
  await using lease = await pool.getConnection();
  for (let i = 0; i < 3; i++) await lease.run('INSERT INTO users (name) VALUES (?)', [`user${i}`]);
  await expect(lease.run('INSERT INTO users (name) VALUES (?)', ['ada'])).rejects.toThrow(/UNIQUE/);
  await lease.get('SELECT * FROM users WHERE id = ?', [1]);
  // maxUsage 3 was passed: the connection retires (max_usage) when released, and its
  // replacement opens in the background.
  lease.release();
  await settled(pool);
}

describe('metrics', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports every metric of METRIC_DEFINITIONS with its unit, type, attributes and bucket advice', async () => {
    const h = telemetryHarness();
    const pool = await usersPool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 2, maxUsage: 3 } });
    await fullWorkload(pool);
    const all = await h.reader.metrics();
    expect([...all.keys()].sort()).toEqual(METRIC_DEFINITIONS.map((d) => d.name).sort());
    for (const def of METRIC_DEFINITIONS) {
      const m = metric(all, def.name);
      expect(m.descriptor.unit, def.name).toBe(def.unit);
      expect(m.descriptor.description, def.name).toBe(def.description);
      expect(m.dataPointType, def.name).toBe(EXPECTED_TYPE[def.kind]);
      if (m.dataPointType === DataPointType.SUM) expect(m.isMonotonic, def.name).toBe(def.kind === 'counter');
      expect(m.dataPoints.length, def.name).toBeGreaterThan(0);
      const allowed = new Set<string>([POOL, ...def.attributes]);
      for (const point of m.dataPoints) {
        expect(point.attributes[POOL], def.name).toBe(pool.poolName);
        for (const key of Object.keys(point.attributes)) expect(allowed.has(key), `${def.name} carries ${key}`).toBe(true);
      }
      if (def.kind === 'histogram') {
        for (const point of points<{ buckets: { boundaries: number[] } }>(m)) {
          expect(point.value.buckets.boundaries, def.name).toEqual([...def.buckets]);
        }
      }
    }
    // Bucket advice fine enough for SQLite: the duration histograms start at 10 µs.
    expect(MICROSECOND_BUCKETS_SECONDS[0]).toBe(1e-5);
    expect(histogram(metric(all, 'db.client.operation.duration'), { 'db.operation.name': 'SELECT' }).buckets.boundaries[0]).toBe(1e-5);
  });

  it('counts a scripted workload', async () => {
    const h = telemetryHarness();
    const pool = await usersPool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 2, maxUsage: 3 } });
    await fullWorkload(pool);
    await pool.all('SELECT name FROM users');
    const all = await h.reader.metrics();

    const duration = metric(all, 'db.client.operation.duration');
    const base = { [POOL]: pool.poolName, 'db.system.name': 'sqlite', 'db.namespace': 'app.db' }; // the file's name, not its path
    const inserts = points(duration, { ...base, 'db.operation.name': 'INSERT' });
    expect(inserts.map((p) => p.attributes['error.type'] ?? 'ok').sort()).toEqual(['SQLITE_CONSTRAINT_UNIQUE', 'ok']);
    expect(histogram(duration, { 'db.operation.name': 'INSERT', 'error.type': 'SQLITE_CONSTRAINT_UNIQUE' }).count).toBe(1);
    expect(histogramCount(duration, { 'db.operation.name': 'INSERT' })).toBe(4);
    expect(histogramCount(duration, { 'db.operation.name': 'SELECT' })).toBe(2);
    expect(histogramCount(duration)).toBe(6);
    const insertOk = inserts.find((p) => p.attributes['error.type'] === undefined)!;
    expect(Object.keys(insertOk.attributes).sort()).toEqual([POOL, 'db.namespace', 'db.operation.name', 'db.query.summary', 'db.system.name'].sort());
    expect(insertOk.attributes['db.query.summary']).toBe('INSERT users');
    // A failure carries the code SQLite returned, as the span does (conditionally required).
    const insertFailed = inserts.find((p) => p.attributes['error.type'] !== undefined)!;
    expect(insertFailed.attributes['db.response.status_code']).toBe('SQLITE_CONSTRAINT_UNIQUE');
    const selects = histogram(duration, { 'db.operation.name': 'SELECT' });
    expect(selects.sum).toBeGreaterThan(0);
    expect(selects.min).toBeGreaterThan(0);
    expect(selects.max).toBeLessThan(1);

    // Two connections at start, and a third to replace the one retired by max_usage.
    expect(histogramCount(metric(all, 'db.client.connection.create_time'))).toBe(3);
    expect(histogram(metric(all, 'db.client.connection.create_time')).min).toBeGreaterThan(0);
    expect(histogramCount(metric(all, 'db.client.connection.wait_time'))).toBe(2);
    expect(histogramCount(metric(all, 'db.client.connection.use_time'))).toBe(2);
    const checks = metric(all, 'sqlite_pool.health_check.duration');
    expect(histogram(checks, { 'sqlite_pool.health_check.result': 'success' }).count).toBe(3); // each new connection's first probe
    expect(points(checks, { 'sqlite_pool.health_check.result': 'failure' })).toEqual([]);
    expect(histogram(metric(all, 'sqlite_pool.connection.lifetime'), { 'sqlite_pool.close.reason': 'max_usage' }).count).toBe(1);
    expect(value(metric(all, 'sqlite_pool.connection.closed'), { 'sqlite_pool.close.reason': 'max_usage' })).toBe(1);
    expect(value(metric(all, 'sqlite_pool.connection.closed'), { 'sqlite_pool.close.reason': 'shutdown' })).toBe(0);

    expect(value(metric(all, 'db.client.connection.max'))).toBe(3);
    expect(value(metric(all, 'db.client.connection.idle.max'))).toBe(3);
    expect(value(metric(all, 'db.client.connection.idle.min'))).toBe(2);
    // The retired connection was replaced to keep two open.
    expect(value(metric(all, 'db.client.connection.count'), { 'db.client.connection.state': 'idle' })).toBe(2);
    expect(value(metric(all, 'db.client.connection.count'), { 'db.client.connection.state': 'used' })).toBe(0);
  });

  it('reports the counters at 0 from the moment a pool opens', async () => {
    const h = telemetryHarness();
    const pool = newPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    expect((await h.reader.metrics()).get('db.client.connection.timeouts')).toBeUndefined();
    await pool.initialize();
    const all = await h.reader.metrics();
    expect(value(metric(all, 'db.client.connection.timeouts'), { [POOL]: pool.poolName })).toBe(0);
    expect(value(metric(all, 'sqlite_pool.connection.leaks'), { [POOL]: pool.poolName })).toBe(0);
    const closed = metric(all, 'sqlite_pool.connection.closed');
    for (const reason of CLOSE_REASONS) expect(value(closed, { [POOL]: pool.poolName, 'sqlite_pool.close.reason': reason })).toBe(0);
    expect(closed.dataPoints).toHaveLength(CLOSE_REASONS.length);
  });

  it('reports used and idle connections while a lease is held, pending requests while a caller waits, and timeouts', async () => {
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 2 } });
    await pool.initialize();
    const count = async (state: 'idle' | 'used'): Promise<number> =>
      value(metric(await h.reader.metrics(), 'db.client.connection.count'), { 'db.client.connection.state': state });

    expect([await count('idle'), await count('used')]).toEqual([2, 0]);
    const a = await pool.getConnection();
    expect([await count('idle'), await count('used')]).toEqual([1, 1]);
    const b = await pool.getConnection();
    expect([await count('idle'), await count('used')]).toEqual([0, 2]);

    const waiting = pool.getConnection();
    const also = pool.getConnection();
    await flush();
    expect(value(metric(await h.reader.metrics(), 'db.client.connection.pending_requests'))).toBe(2);
    a.release();
    const c = await waiting;
    expect(value(metric(await h.reader.metrics(), 'db.client.connection.pending_requests'))).toBe(1);
    b.release();
    const d = await also;
    expect(value(metric(await h.reader.metrics(), 'db.client.connection.pending_requests'))).toBe(0);

    await expect(pool.getConnection({ timeoutMs: 0 })).rejects.toBeInstanceOf(AcquireTimeoutError);
    await expect(pool.getConnection({ timeoutMs: 0 })).rejects.toBeInstanceOf(AcquireTimeoutError);
    const all = await h.reader.metrics();
    expect(value(metric(all, 'db.client.connection.timeouts'))).toBe(2);
    expect(value(metric(all, 'db.client.connection.pending_requests'))).toBe(0);
    // A timed-out wait is not a wait that got a connection.
    expect(histogramCount(metric(all, 'db.client.connection.wait_time'))).toBe(4);
    c.release();
    d.release();
  });

  it('reports health by status (zeros included), and usage max and average', async () => {
    const h = telemetryHarness();
    const pool = await usersPool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 3, maxUsage: 2 } });
    await pool.initialize();
    const health = async (): Promise<Record<string, number>> => {
      const m = metric(await h.reader.metrics(), 'sqlite_pool.connection.health');
      expect(m.dataPoints).toHaveLength(4);
      return Object.fromEntries(STATUSES.map((s) => [s, value(m, { 'sqlite_pool.connection.status': s })]));
    };
    expect(await health()).toEqual({ healthy: 3, unhealthy: 0, stale: 0, expired: 0 });

    const worn = await pool.getConnection();
    for (let i = 0; i < 3; i++) await worn.get('SELECT 1 AS x');
    const broken = await pool.getConnection();
    broken.healthyConnection.markUnhealthy();
    expect(await health()).toEqual({ healthy: 1, unhealthy: 1, stale: 0, expired: 1 });

    const usage = metric(await h.reader.metrics(), 'sqlite_pool.connection.usage');
    expect(value(usage, { 'sqlite_pool.stat': 'max' })).toBe(3);
    expect(value(usage, { 'sqlite_pool.stat': 'average' })).toBe(1);
    const age = metric(await h.reader.metrics(), 'sqlite_pool.connection.age');
    expect(value(age, { 'sqlite_pool.stat': 'max' })).toBeGreaterThan(0);
    expect(value(age, { 'sqlite_pool.stat': 'max' })).toBeGreaterThanOrEqual(value(age, { 'sqlite_pool.stat': 'average' }));

    worn.release();
    broken.release();
    await settled(pool); // their replacements open in the background
    const all = await h.reader.metrics();
    const closed = metric(all, 'sqlite_pool.connection.closed');
    expect(value(closed, { 'sqlite_pool.close.reason': 'max_usage' })).toBe(1);
    expect(value(closed, { 'sqlite_pool.close.reason': 'error' })).toBe(1);
    expect(histogram(metric(all, 'sqlite_pool.connection.lifetime'), { 'sqlite_pool.close.reason': 'error' }).count).toBe(1);
    expect(await health()).toEqual({ healthy: 3, unhealthy: 0, stale: 0, expired: 0 });
  });

  it('reports stale connections, ages, closes by idle, max_age, error and shutdown, and leaks (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const h = telemetryHarness();
    const pool = newPool({
      poolSize: 2,
      leakDetectionThresholdMs: 5_000,
      healthCheckConfig: { minHealthyConnections: 2, maxIdleTimeMs: 60_000, maxAgeMs: 100_000, intervalMs: 1_000_000 },
    });
    await pool.initialize();
    await vi.advanceTimersByTimeAsync(10_000);
    let all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.age'), { 'sqlite_pool.stat': 'max' })).toBeCloseTo(10, 6);
    expect(value(metric(all, 'sqlite_pool.connection.age'), { 'sqlite_pool.stat': 'average' })).toBeCloseTo(10, 6);

    const lease = await pool.getConnection();
    await vi.advanceTimersByTimeAsync(5_000);
    all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.leaks'))).toBe(1);
    lease.release();

    // Idle past maxIdleTimeMs: both stale, then retired (idle) by a cycle and replaced.
    await vi.advanceTimersByTimeAsync(61_000);
    all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.health'), { 'sqlite_pool.connection.status': 'stale' })).toBe(2);
    expect(value(metric(all, 'sqlite_pool.connection.health'), { 'sqlite_pool.connection.status': 'healthy' })).toBe(0);
    await pool.healthManager.runCycle(); // a cycle's refill is part of it
    all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.closed'), { 'sqlite_pool.close.reason': 'idle' })).toBe(2);
    expect(histogram(metric(all, 'sqlite_pool.connection.lifetime'), { 'sqlite_pool.close.reason': 'idle' }).count).toBe(2);
    expect(histogram(metric(all, 'sqlite_pool.connection.lifetime'), { 'sqlite_pool.close.reason': 'idle' }).sum).toBeCloseTo(2 * 76, 6);
    expect(value(metric(all, 'sqlite_pool.connection.health'), { 'sqlite_pool.connection.status': 'healthy' })).toBe(2);
    expect(value(metric(all, 'sqlite_pool.connection.age'), { 'sqlite_pool.stat': 'max' })).toBeCloseTo(0, 6);

    // Older than maxAgeMs while kept busy (never stale): expired, retired (max_age).
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(40_000);
      await pool.get('SELECT 1');
      await pool.get('SELECT 1');
      const [x, y] = [await pool.getConnection(), await pool.getConnection()];
      x.release();
      y.release();
    }
    await pool.healthManager.runCycle();
    all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.closed'), { 'sqlite_pool.close.reason': 'max_age' })).toBe(2);

    // A probe that finds the file gone: the connection broke (error).
    fs.rmSync(pool.namespace);
    await pool.healthManager.runCycle();
    all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.closed'), { 'sqlite_pool.close.reason': 'error' })).toBe(2);
    const failures = metric(all, 'sqlite_pool.health_check.duration');
    // One cycle probes both before it refills: both find the file missing.
    expect(histogram(failures, { 'sqlite_pool.health_check.result': 'failure', 'error.type': 'SQLITE_POOL_FILE_MISSING' }).count).toBe(2);

    // Replacements need the file the pool opened (no new empty database): put one back, refill.
    fs.copyFileSync(seededFile(), pool.namespace);
    await pool.healthManager.runCycle();
    vi.useRealTimers();
    await pool.close();
    all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.closed'), { 'sqlite_pool.close.reason': 'shutdown' })).toBe(2);
  });

  it('lets operationDurationBuckets or a View override the bucket boundaries', async () => {
    const custom = [0.001, 0.01, 0.1];
    const h = telemetryHarness({ operationDurationBuckets: custom });
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users');
    let all = await h.reader.metrics();
    expect(histogram(metric(all, 'db.client.operation.duration')).buckets.boundaries).toEqual(custom);
    // the other histograms keep their advice
    expect(histogram(metric(all, 'db.client.connection.create_time')).buckets.boundaries).toEqual(definition('db.client.connection.create_time').buckets);
    await pool.close();
    h.instrumentation.disable();

    const viewed = telemetryHarness({
      views: [{ instrumentName: 'db.client.operation.duration', aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [0.5, 5] } } }],
    });
    const other = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await other.get('SELECT * FROM users');
    all = await viewed.reader.metrics();
    expect(histogram(metric(all, 'db.client.operation.duration')).buckets.boundaries).toEqual([0.5, 5]);
  });
});

describe('several pools', () => {
  async function namesIn(m: MetricData): Promise<string[]> {
    return [...new Set(m.dataPoints.map((p) => String(p.attributes[POOL])))].sort();
  }

  it('keeps two pools’ series apart', async () => {
    const h = telemetryHarness();
    const a = await usersPool({ poolName: 'orders', poolSize: 4, healthCheckConfig: { minHealthyConnections: 2 } });
    const b = await usersPool({ poolName: 'users', poolSize: 2, healthCheckConfig: { minHealthyConnections: 1 } });
    await a.initialize();
    await b.initialize();
    const held = await a.getConnection();
    for (let i = 0; i < 5; i++) await b.get('SELECT * FROM users');
    await a.get('SELECT * FROM users');

    const all = await h.reader.metrics();
    for (const def of METRIC_DEFINITIONS) {
      const m = all.get(def.name);
      if (m === undefined) continue; // histograms with nothing recorded yet
      expect(await namesIn(m), def.name).toEqual(def.name === 'sqlite_pool.connection.lifetime' ? [] : ['orders', 'users']);
    }
    const duration = metric(all, 'db.client.operation.duration');
    expect(histogram(duration, { [POOL]: 'users' }).count).toBe(5);
    expect(histogram(duration, { [POOL]: 'orders' }).count).toBe(1);
    expect(histogram(duration, { [POOL]: 'users' })).not.toBe(histogram(duration, { [POOL]: 'orders' }));
    const count = metric(all, 'db.client.connection.count');
    expect(value(count, { [POOL]: 'orders', 'db.client.connection.state': 'used' })).toBe(1);
    expect(value(count, { [POOL]: 'orders', 'db.client.connection.state': 'idle' })).toBe(1);
    expect(value(count, { [POOL]: 'users', 'db.client.connection.state': 'used' })).toBe(0);
    expect(value(count, { [POOL]: 'users', 'db.client.connection.state': 'idle' })).toBe(1);
    expect(value(metric(all, 'db.client.connection.max'), { [POOL]: 'orders' })).toBe(4);
    expect(value(metric(all, 'db.client.connection.max'), { [POOL]: 'users' })).toBe(2);
    expect(value(metric(all, 'sqlite_pool.connection.usage'), { [POOL]: 'users', 'sqlite_pool.stat': 'max' })).toBe(5);
    expect(value(metric(all, 'sqlite_pool.connection.usage'), { [POOL]: 'orders', 'sqlite_pool.stat': 'max' })).toBe(1);
    held.release();
  });

  it('gives two pools on files with the same name distinct pool names', async () => {
    const h = telemetryHarness();
    const a = newPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    const b = newPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await a.initialize();
    await b.initialize();
    expect(a.poolName).not.toBe(b.poolName);
    const all = await h.reader.metrics();
    expect(await namesIn(metric(all, 'db.client.connection.max'))).toEqual([a.poolName, b.poolName].sort());
  });

  it.each([
    ['delta', AggregationTemporality.DELTA],
    ['cumulative', AggregationTemporality.CUMULATIVE],
  ])('stops reporting a closed pool’s state (%s reader)', async (_label, temporality) => {
    const h = telemetryHarness({ temporality });
    const a = newPool({ poolName: 'stays', healthCheckConfig: { minHealthyConnections: 1 } });
    const b = newPool({ poolName: 'closes', poolSize: 3, healthCheckConfig: { minHealthyConnections: 2 } });
    await a.initialize();
    await b.initialize();
    let all = await h.reader.metrics();
    expect(value(metric(all, 'db.client.connection.count'), { [POOL]: 'closes', 'db.client.connection.state': 'idle' })).toBe(2);
    await b.close();

    const stateMetrics = METRIC_DEFINITIONS.filter((d) => d.kind === 'observableUpDownCounter' || d.kind === 'observableGauge');
    for (let round = 0; round < 3; round++) {
      all = await h.reader.metrics();
      for (const def of stateMetrics) {
        const m = metric(all, def.name);
        expect(points(m, { [POOL]: 'stays' }).length, def.name).toBeGreaterThan(0);
        const closed = points<number>(m, { [POOL]: 'closes' });
        if (temporality === AggregationTemporality.DELTA) {
          // One last report takes the series to zero (a sum reports the change), then nothing.
          if (round > 0) expect(closed, `${def.name} round ${round}`).toEqual([]);
          else if (def.kind === 'observableGauge') expect(closed.map((p) => p.value)).toEqual(closed.map(() => 0));
        } else {
          // The SDK re-exports a cumulative series it saw once (open-telemetry/opentelemetry-js#4096):
          // the pool's last report says it holds nothing, not what it held before it closed.
          expect(closed.map((p) => p.value), `${def.name} round ${round}`).toEqual(closed.map(() => 0));
        }
      }
    }
    // A new pool may take the closed one's name: its numbers are its own.
    const c = newPool({ poolName: 'closes', poolSize: 5, healthCheckConfig: { minHealthyConnections: 1 } });
    await c.initialize();
    all = await h.reader.metrics();
    expect(value(metric(all, 'db.client.connection.max'), { [POOL]: 'closes' })).toBe(5);
    expect(value(metric(all, 'db.client.connection.count'), { [POOL]: 'closes', 'db.client.connection.state': 'idle' })).toBe(1);
  });
  it('counts failed opens by error type, apart from acquire timeouts', async () => {
    const h = telemetryHarness();
    const dir = fs.mkdtempSync(`${tempDir()}/gone-`);
    const pool = newPool({ filename: `${dir}/missing.db`, fileMustExist: true, poolName: 'unreachable', poolSize: 1 }); // one attempt per initialize()
    await expect(pool.initialize()).rejects.toThrow(/Could not open/);
    await expect(pool.initialize()).rejects.toThrow(/Could not open/);
    const all = await h.reader.metrics();
    expect(value(metric(all, 'sqlite_pool.connection.open_failures'), { [POOL]: 'unreachable', 'error.type': 'SQLITE_CANTOPEN' })).toBe(2);
    expect(all.has('db.client.connection.create_time') ? histogramCount(metric(all, 'db.client.connection.create_time'), { [POOL]: 'unreachable' }) : 0).toBe(0);
  });
});
