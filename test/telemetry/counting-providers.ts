import { diag, DiagLogLevel, type Meter, type MeterOptions, type MeterProvider, type Tracer, type TracerOptions, type TracerProvider } from '@opentelemetry/api';
import { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SqlitePoolInstrumentation } from '../../src/telemetry/instrumentation.js';
import { histogramCount, onCleanup, TestMetricReader } from './harness.js';

/**
 * Real SDK providers (in-memory span exporter, a reader collected on demand) behind wrappers that
 * count what an instrumentation asks of them: how many times it built its instruments, how many
 * observable callbacks it keeps attached, how many tracers it asked for.
 */

/** A real SDK MeterProvider; counts instrument builds and live batch callbacks. */
export class CountingMeterProvider implements MeterProvider {
  readonly reader = new TestMetricReader();
  readonly sdk = new SdkMeterProvider({ readers: [this.reader] });
  /** `db.client.operation.duration` histograms created: one per build of the instruments. */
  builds = 0;
  /** Batch observable callbacks added and not removed. */
  attachedCallbacks = 0;

  constructor() {
    onCleanup(() => this.sdk.shutdown());
  }

  getMeter(name: string, version?: string, options?: MeterOptions): Meter {
    const meter = this.sdk.getMeter(name, version, options);
    return new Proxy(meter, {
      get: (target, property, receiver) => {
        const original = Reflect.get(target, property, receiver) as unknown;
        if (typeof original !== 'function') return original;
        return (...args: unknown[]): unknown => {
          if (property === 'createHistogram' && args[0] === 'db.client.operation.duration') this.builds++;
          if (property === 'addBatchObservableCallback') this.attachedCallbacks++;
          if (property === 'removeBatchObservableCallback') this.attachedCallbacks--;
          return Reflect.apply(original, target, args) as unknown;
        };
      },
    });
  }

  /** Statement durations this provider received (histogram points' counts). */
  async durations(): Promise<number> {
    return histogramCount((await this.reader.metrics()).get('db.client.operation.duration'));
  }

  /** Pools with a `db.client.connection.max` point: what the gauges' callback reported. */
  async gaugedPools(): Promise<string[]> {
    const max = (await this.reader.metrics()).get('db.client.connection.max');
    return (max?.dataPoints ?? []).map((p) => String(p.attributes['db.client.connection.pool.name'])).sort();
  }
}

/** A real SDK tracer provider with an in-memory exporter; counts getTracer() calls. */
export class CountingTracerProvider implements TracerProvider {
  readonly spans = new InMemorySpanExporter();
  readonly sdk = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.spans)] });
  tracers = 0;

  constructor() {
    onCleanup(() => this.sdk.shutdown());
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    this.tracers++;
    return this.sdk.getTracer(name, version, options);
  }

  /** Finished statement spans (`SELECT users`). */
  statements(): number {
    return this.spans.getFinishedSpans().filter((s) => s.name === 'SELECT users').length;
  }
}

/** Both providers, for one instrumentation. */
export interface CountingProviders {
  readonly tracerProvider: CountingTracerProvider;
  readonly meterProvider: CountingMeterProvider;
}

export function countingProviders(): CountingProviders {
  return { tracerProvider: new CountingTracerProvider(), meterProvider: new CountingMeterProvider() };
}

/** Disables `instrumentation` after the test. */
export function disableAfter<T extends SqlitePoolInstrumentation>(instrumentation: T): T {
  onCleanup(() => instrumentation.disable());
  return instrumentation;
}

/** Counts `diag.warn` calls for this test (the text is not the contract). */
export function countWarnings(): { readonly count: number } {
  const counter = { count: 0 };
  const ignore = (): void => {};
  diag.setLogger({ warn: () => void counter.count++, error: ignore, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.WARN);
  onCleanup(() => diag.disable());
  return counter;
}
