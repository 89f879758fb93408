import { trace, type Tracer } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { expect, it } from 'vitest';
import { SqlitePoolInstrumentation } from '../../src/telemetry/instrumentation.js';
import { histogramCount, metric, onCleanup, TestMetricReader, usersPool } from './harness.js';

/**
 * Metrics only, from the global tracer provider before any SDK registered one: the pool makes no
 * span at all (not a no-op span per statement), and still counts every statement. Once an SDK
 * registers a global tracer provider, the next statement is traced, on that provider's tracer.
 */
it('with no tracer provider registered no span is made, every statement is still counted, and the first statement after a registration is traced', async () => {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  onCleanup(() => meterProvider.shutdown());
  const instrumentation = new SqlitePoolInstrumentation({ meterProvider });
  onCleanup(() => instrumentation.disable());
  const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
  onCleanup(() => pool.close());

  const started: string[] = [];
  // Spans the pool would make on the global proxy tracer are counted here: none is expected.
  const proxyPrototype = Object.getPrototypeOf(trace.getTracerProvider().getTracer('probe')) as Tracer;
  const original = proxyPrototype.startSpan;
  proxyPrototype.startSpan = function (this: Tracer, ...args: Parameters<Tracer['startSpan']>) {
    started.push(args[0]);
    return original.apply(this, args);
  };
  onCleanup(() => (proxyPrototype.startSpan = original));
  for (let i = 1; i <= 3; i++) await pool.get('SELECT * FROM users WHERE id = ?', [i]);
  expect(started).toEqual([]);
  expect(histogramCount(metric(await reader.metrics(), 'db.client.operation.duration'))).toBe(3);

  // trace.disable() replaces the API's global proxy: the registration below lands on the new one.
  trace.disable();
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  expect(trace.setGlobalTracerProvider(tracerProvider)).toBe(true);
  onCleanup(() => trace.disable());
  onCleanup(() => tracerProvider.shutdown());
  await pool.get('SELECT * FROM users WHERE id = ?', [4]);
  expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(['SELECT users']);
  expect(histogramCount(metric(await reader.metrics(), 'db.client.operation.duration'))).toBe(4);
});
