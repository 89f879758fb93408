import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { SqlitePoolInstrumentation } from '../../src/telemetry/instrumentation.js';
import { telemetryRegistry, type PoolTelemetry } from '../../src/telemetry/pool-telemetry.js';
import { countingProviders, countWarnings, disableAfter, type CountingProviders } from './counting-providers.js';
import { histogramCount, onCleanup, TestMetricReader, usersPool } from './harness.js';

/**
 * Two instrumentations in one process: the one enabled last receives every pool's spans and
 * metrics; the one it displaced is disabled (isEnabled false, gauges detached) and warns once.
 */

type Pool = Awaited<ReturnType<typeof usersPool>>;

/** Two statements (`SELECT users`), a shortcut and one on a lease. */
async function workload(pool: Pool): Promise<void> {
  await pool.get('SELECT * FROM users WHERE id = ?', [1]);
  await using lease = await pool.getConnection();
  await lease.all('SELECT name FROM users');
}

/** What one instrumentation's providers received so far. */
async function received(p: CountingProviders): Promise<{ statements: number; durations: number; gauged: string[]; callbacks: number }> {
  return {
    statements: p.tracerProvider.statements(),
    durations: await p.meterProvider.durations(),
    gauged: await p.meterProvider.gaugedPools(),
    callbacks: p.meterProvider.attachedCallbacks,
  };
}

const NOTHING = { statements: 0, durations: 0, gauged: [], callbacks: 0 };

function instrumentation(p: CountingProviders, enabled = true): SqlitePoolInstrumentation {
  return disableAfter(new SqlitePoolInstrumentation({ enabled, ...p }));
}

describe('two instrumentations', () => {
  it.each(['a then b', 'b then a'])('the one enabled last receives everything, the other nothing (%s)', async (order) => {
    const warnings = countWarnings();
    const pa = countingProviders();
    const pb = countingProviders();
    const a = instrumentation(pa, false);
    const b = instrumentation(pb, false);
    const [first, second] = order === 'a then b' ? [a, b] : [b, a];
    const [firstProviders, secondProviders] = order === 'a then b' ? [pa, pb] : [pb, pa];
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    first.enable();
    second.enable();

    expect(telemetryRegistry.active).toBe(second);
    expect([first.isEnabled, second.isEnabled]).toEqual([false, true]);
    expect(first.getConfig().enabled).toBe(false);
    expect(warnings.count).toBe(1);

    await workload(pool);
    expect(await received(firstProviders)).toEqual(NOTHING);
    expect(await received(secondProviders)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 1 });
    expect(warnings.count).toBe(1);
  });

  it('a second one constructed enabled displaces the first, which had built and reported', async () => {
    const warnings = countWarnings();
    const pa = countingProviders();
    const pb = countingProviders();
    const a = instrumentation(pa);
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    expect(await received(pa)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 1 });

    const b = instrumentation(pb);
    expect([a.isEnabled, b.isEnabled]).toEqual([false, true]);
    expect(warnings.count).toBe(1);
    // detached at once: a's reader keeps the series it collected (cumulative), sees no pool created since
    expect(pa.meterProvider.attachedCallbacks).toBe(0);
    const late = await usersPool({ poolName: 'late', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    await workload(late);
    expect(await received(pa)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 0 });
    expect(await received(pb)).toEqual({ statements: 4, durations: 4, gauged: ['late', 'p'], callbacks: 1 });
  });

  it('enable() on the displaced one takes over back, without building again', async () => {
    const warnings = countWarnings();
    const pa = countingProviders();
    const pb = countingProviders();
    const a = instrumentation(pa);
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    const b = instrumentation(pb);
    await workload(pool);

    a.enable();
    expect(telemetryRegistry.active).toBe(a);
    expect([a.isEnabled, b.isEnabled]).toEqual([true, false]);
    expect(warnings.count).toBe(2); // a said so when b came, b says so now
    await workload(pool);
    expect(await received(pa)).toEqual({ statements: 4, durations: 4, gauged: ['p'], callbacks: 1 });
    // b's gauges were detached before its reader's first collection: it never saw a pool
    expect(await received(pb)).toEqual({ statements: 2, durations: 2, gauged: [], callbacks: 0 });
    expect([pa.meterProvider.builds, pb.meterProvider.builds]).toEqual([1, 1]);

    // enabling the active one again changes nothing and says nothing
    a.enable();
    expect(warnings.count).toBe(2);
    expect(b.isEnabled).toBe(false);
  });

  it('disable() of the displaced one leaves the active one alone', async () => {
    const warnings = countWarnings();
    const pa = countingProviders();
    const pb = countingProviders();
    const a = instrumentation(pa);
    const b = instrumentation(pb);
    a.disable();
    expect(telemetryRegistry.active).toBe(b);
    expect([a.isEnabled, b.isEnabled]).toEqual([false, true]);
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    expect(await received(pa)).toEqual(NOTHING);
    expect(await received(pb)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 1 });
    expect(warnings.count).toBe(1);

    // and when the active one is disabled, the displaced one does not come back by itself
    b.disable();
    expect(telemetryRegistry.active).toBeUndefined();
    expect([a.isEnabled, b.isEnabled]).toEqual([false, false]);
  });

  it('registerInstrumentations() twice: the second registration receives; unregistering the first leaves it', async () => {
    const warnings = countWarnings();
    const pa = countingProviders();
    const pb = countingProviders();
    const a = disableAfter(new SqlitePoolInstrumentation());
    const b = disableAfter(new SqlitePoolInstrumentation());
    expect(b.isEnabled).toBe(true);
    expect(warnings.count).toBe(1); // a was displaced when b was constructed (enabled)
    const unregisterA = registerInstrumentations({ instrumentations: [a], ...pa });
    expect(telemetryRegistry.active).toBe(a); // a registration enables a displaced instrumentation
    expect(warnings.count).toBe(2);
    const unregisterB = registerInstrumentations({ instrumentations: [b], ...pb });
    expect(telemetryRegistry.active).toBe(b);
    expect(warnings.count).toBe(3);

    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    unregisterA();
    await workload(pool);
    expect(b.isEnabled).toBe(true);
    expect(await received(pa)).toEqual(NOTHING);
    expect(await received(pb)).toEqual({ statements: 4, durations: 4, gauged: ['p'], callbacks: 1 });
    expect([pa.meterProvider.builds, pb.meterProvider.builds]).toEqual([0, 1]);

    unregisterB();
    expect(telemetryRegistry.active).toBeUndefined();
    expect(warnings.count).toBe(3);
  });

  it('the same instance registered twice stays the active one, on the second registration’s providers', async () => {
    const warnings = countWarnings();
    const p1 = countingProviders();
    const p2 = countingProviders();
    const instrumentation = disableAfter(new SqlitePoolInstrumentation());
    registerInstrumentations({ instrumentations: [instrumentation], ...p1 });
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    registerInstrumentations({ instrumentations: [instrumentation], ...p2 });
    await workload(pool);
    expect(instrumentation.isEnabled).toBe(true);
    expect(warnings.count).toBe(0);
    expect(await received(p1)).toEqual({ statements: 2, durations: 2, gauged: [], callbacks: 0 });
    expect(await received(p2)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 1 });
    expect([p1.meterProvider.builds, p2.meterProvider.builds]).toEqual([1, 1]);
  });

  it('NodeSDK plus one made in the code, both on the global providers: the pools are counted once', async () => {
    const warnings = countWarnings();
    const reader = new TestMetricReader();
    const spans = new InMemorySpanExporter();
    const fromSdk = disableAfter(new SqlitePoolInstrumentation({ enabled: false }));
    const sdk = new NodeSDK({ autoDetectResources: false, spanProcessors: [new SimpleSpanProcessor(spans)], metricReaders: [reader], instrumentations: [fromSdk] });
    sdk.start();
    onCleanup(() => sdk.shutdown());
    expect(fromSdk.isEnabled).toBe(true);
    const inCode = disableAfter(new SqlitePoolInstrumentation({ requireParentSpan: false }));
    expect([fromSdk.isEnabled, inCode.isEnabled]).toEqual([false, true]);
    expect(warnings.count).toBe(1);

    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    const all = await reader.metrics(); // fails on a metric reported twice in the scope
    expect(histogramCount(all.get('db.client.operation.duration'))).toBe(2);
    expect(all.get('db.client.connection.max')?.dataPoints).toHaveLength(1);
    expect(spans.getFinishedSpans().filter((s) => s.name === 'SELECT users')).toHaveLength(2);
  });

  it('an instance of another copy of the package (its own module instance) is displaced the same way', async () => {
    const warnings = countWarnings();
    vi.resetModules();
    const copy = await import('../../src/telemetry/instrumentation.js');
    expect(copy.SqlitePoolInstrumentation).not.toBe(SqlitePoolInstrumentation);
    const pa = countingProviders();
    const pb = countingProviders();
    const theirs = disableAfter(new copy.SqlitePoolInstrumentation(pa));
    const ours = instrumentation(pb);
    expect([theirs.isEnabled, ours.isEnabled]).toEqual([false, true]);
    expect(warnings.count).toBe(1);
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    expect(await received(pa)).toEqual(NOTHING);
    expect(await received(pb)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 1 });

    theirs.enable();
    expect([theirs.isEnabled, ours.isEnabled]).toEqual([true, false]);
    expect(warnings.count).toBe(2);
    await workload(pool);
    expect(await received(pa)).toEqual({ statements: 2, durations: 2, gauged: ['p'], callbacks: 1 });
    expect(pb.meterProvider.attachedCallbacks).toBe(0);
  });

  it('an older copy that only sets and clears `active`: neither breaks, and ours reports false and stays silent', async () => {
    const warnings = countWarnings();
    const p = countingProviders();
    const ours = instrumentation(p);
    const pool = await usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);

    const calls: string[] = [];
    const older = new Proxy({ instrumentationName: 'otel-sqlite-pool', instrumentationVersion: '0.1.0' }, {
      get: (target, property) => (property in target ? target[property as keyof typeof target] : typeof property === 'string' ? () => void calls.push(property) : undefined),
    }) as unknown as PoolTelemetry;
    telemetryRegistry.active = older; // what an older copy's enable() does
    onCleanup(() => {
      if (telemetryRegistry.active === older) telemetryRegistry.active = undefined;
    });
    const late = await usersPool({ poolName: 'late', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(late);
    expect(calls).toContain('statementStarted');
    // the gauges' callback, still attached (nobody told ours), observes nothing
    expect(await received(p)).toEqual({ statements: 2, durations: 2, gauged: [], callbacks: 1 });
    expect(ours.isEnabled).toBe(false);
    expect(p.meterProvider.attachedCallbacks).toBe(0);
    expect(warnings.count).toBe(1);

    // ours takes the slot back; the older one has nothing to be told through, and nothing throws
    ours.enable();
    expect(telemetryRegistry.active).toBe(ours);
    await workload(late);
    expect((await received(p)).gauged).toEqual(['late', 'p']);
  });
});
