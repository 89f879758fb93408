import { ProxyTracerProvider, metrics, trace, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import { LiveTracer } from './live-tracer.js';
import { PoolMetrics } from './pool-metrics.js';
import { reportTelemetryFailure, type ObservedPool } from './pool-telemetry.js';
import * as sc from './semconv.js';

/** The instrumentation scope: the tracer's and the meter's. */
export interface Scope {
  readonly name: string;
  readonly version: string;
}

/** What the instruments' collection-time callback asks the instrumentation that owns them. */
export interface MetricsOwner {
  readonly poolNameOf: (pool: ObservedPool) => string;
  readonly reporting: () => boolean;
}

/**
 * The tracer and the instruments of one instrumentation, and the providers they come from: the
 * ones set (config, `setTracerProvider()`, `setMeterProvider()`), else the global ones as they are
 * when `resolve()` runs. `resolve()` runs at the first pool event after a change, because
 * `registerInstrumentations()` and `NodeSDK` set their providers right after the instrumentation
 * was constructed (and enabled): resolving earlier would build on the global, often no-op,
 * provider first. Each is built once per provider: instruments register an observable callback
 * and instrument storage in the SDK; a tracer is a cached look-up in the SDK, but from the global
 * provider before its registration it is a proxy that costs an indirection on every span.
 */
export class TelemetryProviders {
  /** Set by the config or the instrumentation's setters; undefined: the global one. */
  tracerProvider: TracerProvider | undefined;
  meterProvider: MeterProvider | undefined;
  readonly #scope: Scope;
  readonly #owner: MetricsOwner;
  #tracer: LiveTracer;
  #tracerFrom: TracerProvider | undefined;
  #metrics: PoolMetrics | undefined;

  constructor(scope: Scope, owner: MetricsOwner, tracerProvider: TracerProvider | undefined, meterProvider: MeterProvider | undefined) {
    this.#scope = scope;
    this.#owner = owner;
    this.tracerProvider = tracerProvider;
    this.meterProvider = meterProvider;
    // Until the first resolve: a proxy with no delegate records nothing, and calls no user provider.
    const none = new ProxyTracerProvider();
    this.#tracer = new LiveTracer(none, none.getTracer(scope.name, scope.version), scope.name, scope.version);
  }

  get tracer(): LiveTracer {
    return this.#tracer;
  }

  get metrics(): PoolMetrics | undefined {
    return this.#metrics;
  }

  /**
   * Gets the tracer and builds the instruments, each only if its provider (or, for instruments,
   * the buckets) changed since the last time, and attaches the instruments' callback. Never throws:
   * a provider that fails costs its signal, reported to `pool`, not the pool's work.
   */
  resolve(pool: ObservedPool | undefined, operationDurationBuckets: readonly number[] | undefined): void {
    const { name, version } = this.#scope;
    const tracerProvider = this.tracerProvider ?? trace.getTracerProvider();
    if (tracerProvider !== this.#tracerFrom) {
      try {
        this.#tracer = new LiveTracer(tracerProvider, tracerProvider.getTracer(name, version, { schemaUrl: sc.SCHEMA_URL }), name, version, this.tracerProvider === undefined);
        this.#tracerFrom = tracerProvider;
      } catch (error) {
        reportTelemetryFailure(pool, 'getTracer', error);
      }
    }
    const meterProvider = this.meterProvider ?? metrics.getMeterProvider();
    if (this.#metrics?.builtFor(meterProvider, operationDurationBuckets) !== true) {
      this.detach();
      this.#metrics = undefined;
      try {
        const meter = meterProvider.getMeter(name, version, { schemaUrl: sc.SCHEMA_URL });
        this.#metrics = new PoolMetrics(meter, { meterProvider, operationDurationBuckets, ...this.#owner });
      } catch (error) {
        reportTelemetryFailure(pool, 'getMeter', error);
      }
    }
    try {
      this.#metrics?.attach();
    } catch (error) {
      reportTelemetryFailure(pool, 'addBatchObservableCallback', error);
    }
  }

  /** Stops the instruments' callback; they are kept for the next `resolve()` on the same provider. */
  detach(): void {
    try {
      this.#metrics?.detach();
    } catch {
      // A meter that cannot remove the callback: the owner's `reporting` check keeps it silent.
    }
  }
}
