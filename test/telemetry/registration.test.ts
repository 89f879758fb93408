import { metrics, trace } from '@opentelemetry/api';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { SqlitePoolInstrumentation, type SqlitePoolInstrumentationConfig } from '../../src/telemetry/instrumentation.js';
import { telemetryRegistry } from '../../src/telemetry/pool-telemetry.js';
import { VERSION } from '../../src/version.js';
import { histogramCount, metric, onCleanup, telemetryHarness, TestMetricReader, usersPool, value } from './harness.js';

/** Registration: enabled or not, before or after the pool, through the SDK's own entry points. */

async function workload(pool: Awaited<ReturnType<typeof usersPool>>): Promise<void> {
  await pool.get('SELECT * FROM users WHERE id = ?', [1]);
  await using lease = await pool.getConnection();
  await lease.all('SELECT name FROM users');
}

describe('registration', () => {
  it('implements the Instrumentation interface of @opentelemetry/instrumentation', () => {
    expectTypeOf<SqlitePoolInstrumentation>().toExtend<Instrumentation>();
    expectTypeOf<SqlitePoolInstrumentationConfig>().toExtend<{ enabled?: boolean }>();
    const instrumentation: Instrumentation = new SqlitePoolInstrumentation({ enabled: false });
    expect(instrumentation.instrumentationName).toBe('otel-sqlite-pool');
    expect(instrumentation.instrumentationVersion).toBe(VERSION);
    expect(instrumentation.getConfig().enabled).toBe(false);
  });

  it('emits nothing when never created, and nothing when created disabled', async () => {
    const h = telemetryHarness({ noInstrumentation: true });
    const pool = await usersPool();
    await workload(pool);
    expect(telemetryRegistry.active).toBeUndefined();
    expect(h.spans.getFinishedSpans()).toEqual([]);
    expect((await h.reader.collect()).resourceMetrics.scopeMetrics).toEqual([]);

    const disabled = new SqlitePoolInstrumentation({ enabled: false, tracerProvider: h.tracerProvider, meterProvider: h.meterProvider });
    onCleanup(() => disabled.disable());
    expect(disabled.isEnabled).toBe(false);
    await workload(pool);
    expect(telemetryRegistry.active).toBeUndefined();
    expect(h.spans.getFinishedSpans()).toEqual([]);
    expect((await h.reader.metrics()).size).toBe(0);
  });

  it('stops on disable() and starts again on enable()', async () => {
    const h = telemetryHarness();
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    const spansWhileOn = h.spans.getFinishedSpans().length;
    expect(spansWhileOn).toBeGreaterThan(0);
    expect(histogramCount((await h.reader.metrics()).get('db.client.operation.duration'))).toBe(2);

    h.instrumentation.disable();
    expect(h.instrumentation.isEnabled).toBe(false);
    expect(h.instrumentation.getConfig().enabled).toBe(false);
    expect(telemetryRegistry.active).toBeUndefined();
    await workload(pool);
    expect(h.spans.getFinishedSpans()).toHaveLength(spansWhileOn);
    expect(histogramCount((await h.reader.metrics()).get('db.client.operation.duration'))).toBe(2);

    h.instrumentation.enable();
    expect(telemetryRegistry.active).toBe(h.instrumentation);
    await workload(pool);
    expect(h.spans.getFinishedSpans().length).toBeGreaterThan(spansWhileOn);
    const all = await h.reader.metrics();
    expect(histogramCount(all.get('db.client.operation.duration'))).toBe(4);
    // the pool opened while it was on is still observed
    expect(value(metric(all, 'db.client.connection.max'), { 'db.client.connection.pool.name': pool.poolName })).toBe(10);
  });

  it('sees a pool created and used before the instrumentation, and one created after', async () => {
    const before = await usersPool({ poolName: 'before', healthCheckConfig: { minHealthyConnections: 1 } });
    await before.initialize();
    const lease = await before.getConnection();
    const prepared = lease.connection.prepare('SELECT name FROM users WHERE id = ?'); // prepared while uninstrumented

    const h = telemetryHarness();
    prepared.get(1);
    lease.release();
    const after = await usersPool({ poolName: 'after', healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(after);
    await workload(before);

    const statementPools = h.spans
      .getFinishedSpans()
      .filter((s) => s.name === 'SELECT users')
      .map((s) => s.attributes['db.client.connection.pool.name']);
    expect(statementPools).toEqual(['before', 'after', 'after', 'before', 'before']);
    const all = await h.reader.metrics();
    for (const name of ['before', 'after']) {
      expect(value(metric(all, 'db.client.connection.timeouts'), { 'db.client.connection.pool.name': name })).toBe(0);
      expect(value(metric(all, 'db.client.connection.count'), { 'db.client.connection.pool.name': name, 'db.client.connection.state': 'idle' })).toBe(1);
    }
    expect(histogramCount(metric(all, 'db.client.operation.duration'), { 'db.client.connection.pool.name': 'before' })).toBe(3);
  });

  it('works through registerInstrumentations(), created before the providers, and unregisters', async () => {
    const instrumentation = new SqlitePoolInstrumentation();
    onCleanup(() => instrumentation.disable());
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.initialize();

    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    onCleanup(() => meterProvider.shutdown());
    const unregister = registerInstrumentations({ instrumentations: [instrumentation], tracerProvider, meterProvider });

    await workload(pool);
    expect(spans.getFinishedSpans().map((s) => s.name)).toContain('SELECT users');
    let all = await reader.metrics();
    expect(histogramCount(all.get('db.client.operation.duration'))).toBe(2);
    expect(value(metric(all, 'sqlite_pool.connection.leaks'))).toBe(0);

    unregister();
    expect(telemetryRegistry.active).toBeUndefined();
    spans.reset();
    await workload(pool);
    expect(spans.getFinishedSpans()).toEqual([]);
    all = await reader.metrics();
    expect(histogramCount(all.get('db.client.operation.duration'))).toBe(2);
  });

  it('is enabled by registerInstrumentations() when created with enabled: false', async () => {
    const instrumentation = new SqlitePoolInstrumentation({ enabled: false });
    onCleanup(() => instrumentation.disable());
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    onCleanup(() => meterProvider.shutdown());
    registerInstrumentations({ instrumentations: [instrumentation], tracerProvider, meterProvider });
    expect(instrumentation.isEnabled).toBe(true);
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    expect(spans.getFinishedSpans().some((s) => s.name === 'SELECT users')).toBe(true);
    expect(histogramCount((await reader.metrics()).get('db.client.operation.duration'))).toBe(2);
  });

  it('works with the global providers registered by NodeSDK', async () => {
    const spans = new InMemorySpanExporter();
    const reader = new TestMetricReader();
    const instrumentation = new SqlitePoolInstrumentation();
    const sdk = new NodeSDK({
      serviceName: 'registration-test',
      autoDetectResources: false,
      spanProcessors: [new SimpleSpanProcessor(spans)],
      metricReaders: [reader],
      instrumentations: [instrumentation],
    });
    sdk.start();
    onCleanup(() => sdk.shutdown());
    onCleanup(() => instrumentation.disable());
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await trace.getTracer('app').startActiveSpan('request', async (span) => {
      await workload(pool);
      span.end();
    });
    const request = spans.getFinishedSpans().find((s) => s.name === 'request')!;
    const statements = spans.getFinishedSpans().filter((s) => s.name === 'SELECT users');
    expect(statements).toHaveLength(2);
    for (const s of statements) expect(s.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(statements[0]!.resource.attributes['service.name']).toBe('registration-test');
    expect(histogramCount((await reader.metrics()).get('db.client.operation.duration'))).toBe(2);
    expect(metrics.getMeterProvider()).not.toBe(undefined);
  });

  it('takes a new configuration through setConfig()', async () => {
    const h = telemetryHarness();
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await workload(pool);
    expect(h.spansNamed('SELECT users')).toHaveLength(2);
    h.instrumentation.setConfig({ requireParentSpan: true, tracerProvider: h.tracerProvider, meterProvider: h.meterProvider });
    expect(h.instrumentation.getConfig().requireParentSpan).toBe(true);
    await workload(pool);
    expect(h.spansNamed('SELECT users')).toHaveLength(2);
    expect(histogramCount((await h.reader.metrics()).get('db.client.operation.duration'))).toBe(4);
  });
});
