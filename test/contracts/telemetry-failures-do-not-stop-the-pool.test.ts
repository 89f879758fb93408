import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { SqlitePoolInstrumentation, type Lease } from '../../src/index.js';
import { captureLogger } from '../helpers/temp-db.js';
import { metric, newPool, onCleanup, points, telemetryHarness } from '../telemetry/harness.js';
import { seededFile, turn } from './support.js';

const POOL_NAME = 'db.client.connection.pool.name';

/**
 * README: "A user callback cannot stop the pool ... a telemetry hook that throws". Telemetry runs
 * user code on the pool's own paths (span processors and exporters when a span ends, a `poolName`
 * function when a pool opens or a statement is first seen). A failure there is caught, counted in
 * `lifetime.telemetryFailures`, logged once per kind, and the pool's work goes on.
 */
describe('telemetry that fails', () => {
  test('a poolName function that throws stops neither initialize() nor the statements; the pool is reported under its own name', async () => {
    let calls = 0;
    const h = telemetryHarness({
      poolName: () => {
        calls++;
        throw new Error('naming failed');
      },
    });
    const logger = captureLogger();
    const db = newPool({ filename: seededFile(), logger });
    await db.initialize();
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
    expect(await db.all('SELECT id FROM users WHERE id = ?', [1])).toEqual([{ id: 1 }]);
    const gauges = metric(await h.reader.metrics(), 'db.client.connection.count');
    expect(points(gauges, { [POOL_NAME]: db.poolName }).length).toBeGreaterThan(0);
    expect(h.spansNamed('SELECT users').map((span) => span.attributes[POOL_NAME])).toEqual([db.poolName, db.poolName]);
    // Every failed call is counted; one warning says so.
    expect(calls).toBeGreaterThan(1);
    expect(db.getConnectionStatsSync().lifetime.telemetryFailures).toBe(calls);
    expect(logger.entries.filter((entry) => entry.level === 'warn')).toHaveLength(1);
  });

  test('a span processor that throws while a waiter is granted loses neither the waiter nor the connection', async () => {
    let failNext = false;
    const flaky: SpanProcessor = {
      onStart: () => undefined,
      onEnd: (span: ReadableSpan) => {
        if (failNext && span.name === 'sqlite_pool.acquire') {
          failNext = false;
          throw new Error('exporter hiccup');
        }
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const instrumentation = new SqlitePoolInstrumentation({ tracerProvider: new BasicTracerProvider({ spanProcessors: [flaky] }) });
    onCleanup(() => instrumentation.disable());
    const logger = captureLogger();
    const db = newPool({ filename: seededFile(), poolSize: 1, logger });
    await db.initialize();
    const held = await db.getConnection();
    // The pool is full: this caller waits in line, and the release below grants it (in thread
    // mode within release(), where the acquire span ends and the processor throws).
    let granted: Lease | undefined;
    const waiter = db.getConnection().then((lease) => (granted = lease));
    expect(db.getConnectionStatsSync().pendingRequests).toBe(1);
    failNext = true;
    expect(() => held.release()).not.toThrow();
    await turn();
    expect(granted).toBeDefined();
    expect(failNext).toBe(false); // the processor did throw
    const lease = await waiter;
    expect(db.getConnectionStatsSync()).toMatchObject({ usedConnections: 1, pendingRequests: 0 });
    expect(await lease.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
    lease.release();
    expect(db.getConnectionStatsSync().lifetime.telemetryFailures).toBe(1);
    expect(logger.entries.filter((entry) => entry.level === 'warn')).toHaveLength(1);
  });

  test('a span processor that throws on every span: statements, probes, waits and close() go on, and each failure is counted', async () => {
    let thrown = 0;
    const broken: SpanProcessor = {
      onStart: () => undefined,
      onEnd: () => {
        thrown++;
        throw new Error('exporter down');
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const instrumentation = new SqlitePoolInstrumentation({ tracerProvider: new BasicTracerProvider({ spanProcessors: [broken] }) });
    onCleanup(() => instrumentation.disable());
    const db = newPool({ filename: seededFile(), poolSize: 1, healthCheckConfig: { cacheDurationMs: 0 } });
    await db.initialize();
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
    await expect(db.get('SELECT nope FROM users')).rejects.toThrow(/no such column/);
    const held = await db.getConnection();
    const waiter = db.getConnection();
    held.release();
    (await waiter).release();
    await db.monitoring.runCycle();
    expect(db.getConnectionStatsSync()).toMatchObject({ usedConnections: 0, pendingRequests: 0 });
    await db.close();
    expect(thrown).toBeGreaterThan(0);
    expect(db.getConnectionStatsSync().lifetime.telemetryFailures).toBe(thrown);
  });
});
