import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { context, metrics, propagation, trace, type Attributes, type AttributeValue } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, expect } from 'vitest';
import { DatabaseManager } from '../../src/pool/database-manager.js';
import type { DatabaseManagerOptions } from '../../src/config/pool-options.js';
import { SqlitePoolInstrumentation, type SqlitePoolInstrumentationConfig } from '../../src/telemetry/instrumentation.js';
import { telemetryRegistry } from '../../src/telemetry/pool-telemetry.js';

/**
 * Shared set-up for the telemetry tests: real SDK providers (in-memory span exporter, a metric
 * reader collected on demand), real SQLite files in temp directories, and one cleanup hook that
 * closes pools, disables instrumentations, shuts providers down and resets every piece of global
 * OpenTelemetry state a test may have set.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // a test may have closed or shut it down already
    }
  }
  trace.disable();
  metrics.disable();
  context.disable();
  propagation.disable();
  // A test that forgot to disable must not leak its instrumentation into the next one.
  expect(telemetryRegistry.active).toBeUndefined();
  expect(telemetryRegistry.pools.size).toBe(0);
});

/** Runs `fn` after the current test (in reverse order of registration). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** A metric reader collected on demand, with no timer of its own. */
export class TestMetricReader extends MetricReader {
  constructor(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE) {
    super({ aggregationTemporalitySelector: () => temporality });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}

  /** Every metric collected now, by name (the instrumentation's scope only). */
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.collect();
    expect(errors).toEqual([]);
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      if (scope.scope.name !== 'otel-sqlite-pool') continue;
      for (const metric of scope.metrics) {
        expect(byName.has(metric.descriptor.name), `${metric.descriptor.name} reported twice`).toBe(false);
        byName.set(metric.descriptor.name, metric);
      }
    }
    return byName;
  }
}

export interface Harness {
  readonly spans: InMemorySpanExporter;
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly reader: TestMetricReader;
  readonly instrumentation: SqlitePoolInstrumentation;
  /** Finished spans with this name. */
  spansNamed(name: string): ReadableSpan[];
  /** The only finished span with this name. */
  span(name: string): ReadableSpan;
}

export interface HarnessOptions extends Omit<SqlitePoolInstrumentationConfig, 'tracerProvider' | 'meterProvider'> {
  temporality?: AggregationTemporality;
  views?: ViewOptions[];
  /** Build the providers but not the instrumentation. */
  noInstrumentation?: boolean;
}

/** Real providers and an instrumentation wired to them explicitly (nothing global). */
export function telemetryHarness(options: HarnessOptions = {}): Harness {
  const { temporality, views, noInstrumentation, ...config } = options;
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new TestMetricReader(temporality);
  const meterProvider = new MeterProvider({ readers: [reader], views });
  const instrumentation = noInstrumentation
    ? (undefined as unknown as SqlitePoolInstrumentation)
    : new SqlitePoolInstrumentation({ ...config, tracerProvider, meterProvider });
  onCleanup(() => meterProvider.shutdown());
  onCleanup(() => tracerProvider.shutdown());
  if (!noInstrumentation) onCleanup(() => instrumentation.disable());
  const spansNamed = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.name === name);
  return {
    spans,
    tracerProvider,
    meterProvider,
    reader,
    instrumentation,
    spansNamed,
    span(name) {
      const found = spansNamed(name);
      expect(found.map((s) => s.name), `one span named ${name}`).toEqual([name]);
      return found[0] as ReadableSpan;
    },
  };
}

/** Registers AsyncLocalStorage as the global context manager for this test. */
export function useAsyncContext(): void {
  const manager = new AsyncLocalStorageContextManager().enable();
  expect(context.setGlobalContextManager(manager)).toBe(true);
  onCleanup(() => {
    manager.disable();
    context.disable();
  });
}

/** A fresh temp directory, removed after the test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-sqlite-pool-telemetry-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pool on a new file in a temp directory, closed after the test. Not initialized. */
export function newPool(options: Partial<DatabaseManagerOptions> = {}): DatabaseManager {
  const pool = new DatabaseManager({ filename: path.join(tempDir(), 'app.db'), ...options });
  onCleanup(() => pool.close({ timeoutMs: 0 }));
  return pool;
}

/** A pool with a `users` table (id, name, email) and two rows, its schema made without telemetry. */
export async function usersPool(options: Partial<DatabaseManagerOptions> = {}): Promise<DatabaseManager> {
  return newPool({
    ...options,
    onConnect: (db) => {
      db.exec(`CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, email TEXT);
               INSERT OR IGNORE INTO users (id, name, email) VALUES (1, 'ada', 'ada@example.com'), (2, 'bob', 'bob@example.com');`);
      if (typeof options.onConnect === 'function') options.onConnect(db);
    },
  });
}

// --- metric look-ups ----------------------------------------------------------------------------

/** The metric named `name`; fails the test if it was not reported. */
export function metric(all: Map<string, MetricData>, name: string): MetricData {
  const found = all.get(name);
  expect(found, `metric ${name} reported`).toBeDefined();
  return found as MetricData;
}

/** Whether every key/value of `subset` is in `attributes`. */
export function hasAttributes(attributes: Attributes, subset: Record<string, AttributeValue>): boolean {
  return Object.entries(subset).every(([key, value]) => attributes[key] === value);
}

/** Data points of a metric whose attributes include `subset`. */
export function points<T>(m: MetricData, subset: Record<string, AttributeValue> = {}): DataPoint<T>[] {
  return (m.dataPoints as DataPoint<T>[]).filter((p) => hasAttributes(p.attributes, subset));
}

/** The value of the single data point matching `subset` (a sum or gauge). */
export function value(m: MetricData, subset: Record<string, AttributeValue> = {}): number {
  const found = points<number>(m, subset);
  expect(found.length, `one point of ${m.descriptor.name} with ${JSON.stringify(subset)}; got ${JSON.stringify(m.dataPoints.map((p) => p.attributes))}`).toBe(1);
  return (found[0] as DataPoint<number>).value;
}

/** The histogram of the single data point matching `subset`. */
export function histogram(m: MetricData, subset: Record<string, AttributeValue> = {}): Histogram {
  const found = points<Histogram>(m, subset);
  expect(found.length, `one point of ${m.descriptor.name} with ${JSON.stringify(subset)}; got ${JSON.stringify(m.dataPoints.map((p) => p.attributes))}`).toBe(1);
  return (found[0] as DataPoint<Histogram>).value;
}

/** Sum of histogram counts over every point matching `subset`. */
export function histogramCount(m: MetricData | undefined, subset: Record<string, AttributeValue> = {}): number {
  if (m === undefined) return 0;
  return points<Histogram>(m, subset).reduce((sum, p) => sum + p.value.count, 0);
}

/** Lets promise callbacks and one macrotask turn run (no timing involved). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
