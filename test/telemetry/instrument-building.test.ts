import { metrics } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { SimpleSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { SqlitePoolInstrumentation } from '../../src/telemetry/instrumentation.js';
import { CountingMeterProvider, CountingTracerProvider, countingProviders, disableAfter } from './counting-providers.js';
import { histogramCount, onCleanup, TestMetricReader, usersPool } from './harness.js';

/**
 * When the instruments (and the tracer) are built: at the first pool event after enable() or a
 * change of provider, on the provider in effect then; once per provider, against real SDK
 * providers behind counting wrappers.
 */

type Pool = Awaited<ReturnType<typeof usersPool>>;

/** Two statements (`SELECT users`): two `db.client.operation.duration` points. */
async function workload(pool: Pool): Promise<void> {
  await pool.get('SELECT * FROM users WHERE id = ?', [1]);
  await using lease = await pool.getConnection();
  await lease.all('SELECT name FROM users');
}

function pool(): Promise<Pool> {
  return usersPool({ poolName: 'p', healthCheckConfig: { minHealthyConnections: 1 } });
}

describe('building the instruments', () => {
  it('constructor then setMeterProvider(): built once, on that provider, at the first pool event', async () => {
    const global = new CountingMeterProvider();
    expect(metrics.setGlobalMeterProvider(global)).toBe(true);
    const mine = new CountingMeterProvider();
    const instrumentation = disableAfter(new SqlitePoolInstrumentation());
    instrumentation.setMeterProvider(mine);
    instrumentation.setMeterProvider(mine);
    expect([global.builds, mine.builds]).toEqual([0, 0]);

    const p = await pool();
    await workload(p);
    expect([global.builds, mine.builds]).toEqual([0, 1]);
    expect([await global.durations(), await mine.durations()]).toEqual([0, 2]);
    expect([global.attachedCallbacks, mine.attachedCallbacks]).toEqual([0, 1]);
  });

  it('registerInstrumentations(): built once, the tracer asked for once', async () => {
    for (const enabled of [true, false]) {
      const p = countingProviders();
      const instrumentation = disableAfter(new SqlitePoolInstrumentation({ enabled }));
      registerInstrumentations({ instrumentations: [instrumentation], ...p });
      // the same providers again: nothing to rebuild
      registerInstrumentations({ instrumentations: [instrumentation], ...p });
      await workload(await pool());
      expect([p.meterProvider.builds, p.tracerProvider.tracers], `enabled: ${enabled}`).toEqual([1, 1]);
      expect([await p.meterProvider.durations(), p.tracerProvider.statements()]).toEqual([2, 2]);
      instrumentation.disable();
    }
  });

  it('NodeSDK: built once, on the provider it registers after registering the instrumentation', async () => {
    const reader = new TestMetricReader();
    const spans = new InMemorySpanExporter();
    const instrumentation = disableAfter(new SqlitePoolInstrumentation());
    const sdk = new NodeSDK({ autoDetectResources: false, spanProcessors: [new SimpleSpanProcessor(spans)], metricReaders: [reader], instrumentations: [instrumentation] });
    sdk.start();
    onCleanup(() => sdk.shutdown());
    const getMeter = vi.spyOn(metrics.getMeterProvider(), 'getMeter');
    await workload(await pool());
    await workload(await pool());
    expect(getMeter.mock.calls.filter(([name]) => name === 'otel-sqlite-pool')).toHaveLength(1);
    expect(histogramCount((await reader.metrics()).get('db.client.operation.duration'))).toBe(4);
  });

  it('a provider change rebuilds once; the same provider again changes nothing', async () => {
    const one = new CountingMeterProvider();
    const two = new CountingMeterProvider();
    const instrumentation = disableAfter(new SqlitePoolInstrumentation({ meterProvider: one }));
    const p = await pool();
    await workload(p);
    instrumentation.setMeterProvider(two);
    expect(one.attachedCallbacks).toBe(1); // until the next pool event: no report is lost in between
    await workload(p);
    instrumentation.setMeterProvider(two);
    await workload(p);
    expect([one.builds, two.builds]).toEqual([1, 1]);
    expect([one.attachedCallbacks, two.attachedCallbacks]).toEqual([0, 1]);
    expect([await one.durations(), await two.durations()]).toEqual([2, 4]);
  });

  it('disable() then enable(), or setConfig() with the same buckets: nothing rebuilt, the gauges attached again', async () => {
    const tracerProvider = new CountingTracerProvider();
    const meterProvider = new CountingMeterProvider();
    const instrumentation = disableAfter(new SqlitePoolInstrumentation({ tracerProvider, meterProvider }));
    const p = await pool();
    await workload(p);
    instrumentation.disable();
    expect(meterProvider.attachedCallbacks).toBe(0);
    await workload(p);
    instrumentation.enable();
    await workload(p);
    instrumentation.setConfig({ requireParentSpan: false });
    await workload(p);
    expect([meterProvider.builds, tracerProvider.tracers, meterProvider.attachedCallbacks]).toEqual([1, 1, 1]);
    expect([await meterProvider.durations(), tracerProvider.statements()]).toEqual([6, 6]);
    expect(await meterProvider.gaugedPools()).toEqual(['p']);
  });

  it('before any provider is set: the global one at the first pool event; dropped when none is registered', async () => {
    // a global provider registered before the first pool event receives
    const global = new CountingMeterProvider();
    metrics.setGlobalMeterProvider(global);
    const first = disableAfter(new SqlitePoolInstrumentation());
    const p = await pool();
    await workload(p);
    expect([global.builds, await global.durations()]).toEqual([1, 2]);
    // a registration's provider takes over from the next event
    const mine = new CountingMeterProvider();
    registerInstrumentations({ instrumentations: [first], meterProvider: mine });
    await workload(p);
    expect([global.builds, mine.builds, global.attachedCallbacks, mine.attachedCallbacks]).toEqual([1, 1, 0, 1]);
    expect([await global.durations(), await mine.durations()]).toEqual([2, 2]);
    first.disable();
    metrics.disable();

    // none registered: the API's no-op provider, nothing recorded anywhere, nothing fails;
    // setting one later builds on it, for what follows
    const second = disableAfter(new SqlitePoolInstrumentation());
    await workload(p);
    const later = new CountingMeterProvider();
    second.setMeterProvider(later);
    await workload(p);
    expect([later.builds, await later.durations()]).toEqual([1, 2]);
  });

  it('a provider that throws when asked for its meter costs the metrics, once, not the pool’s work', async () => {
    const p = countingProviders();
    const broken = {
      getMeter: () => {
        throw new Error('meter provider bug');
      },
    };
    const instrumentation = disableAfter(new SqlitePoolInstrumentation({ tracerProvider: p.tracerProvider, meterProvider: broken }));
    const db = await pool();
    await workload(db);
    await workload(db);
    expect(instrumentation.isEnabled).toBe(true);
    expect(p.tracerProvider.statements()).toBe(4);
    expect(db.getConnectionStatsSync().lifetime.telemetryFailures).toBe(1);
  });
});
