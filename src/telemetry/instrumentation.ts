import { metrics, trace, type MeterProvider, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { HealthCheckResult, HealthyConnection } from '../health/healthy-connection.js';
import type { StatementInfo } from './statement-info.js';
import type { CloseReason } from './metric-definitions.js';
import { PoolMetrics } from './pool-metrics.js';
import { reportTelemetryFailure, telemetryRegistry, type HealthCheckTrigger, type ObservedPool, type PoolTelemetry, type StatementMethod, type TraceHandle } from './pool-telemetry.js';
import * as sc from './semconv.js';
import { VERSION } from '../version.js';
import { resolveConfig, type Resolved, type SqlitePoolInstrumentationConfig } from './instrumentation-config.js';
import { TelemetryRecorder } from './telemetry-recorder.js';

export type { SqlitePoolInstrumentationConfig, SqlitePoolRequestHookInfo, SqlitePoolResponseHookInfo } from './instrumentation-config.js';

export const INSTRUMENTATION_NAME = 'otel-sqlite-pool';

/** Process-wide (like the telemetry registry), so no two instances ever share a generation. */
const GENERATION_KEY = Symbol.for('otel-sqlite-pool.telemetry-generation.v1');
const generations = ((globalThis as { [GENERATION_KEY]?: { last: number } })[GENERATION_KEY] ??= { last: 0 });
function nextGeneration(): number {
  return ++generations.last;
}

/**
 * Telemetry for every pool in the process. It implements the `Instrumentation` interface of
 * `@opentelemetry/instrumentation` without patching anything (the pool reports to it), so
 * `registerInstrumentations({ instrumentations: [new SqlitePoolInstrumentation()] })` and
 * `new NodeSDK({ instrumentations: [...] })` both work, for pools created before or after.
 *
 * Every report from a pool goes through a guard here: the trace and metric pipelines run user
 * code (processors, exporters, samplers, views) on the pool's own paths, and a failure there is
 * handed to the pool (logged once, counted in `lifetime.telemetryFailures`) instead of breaking the
 * grant, statement or `initialize()` it was reporting. What is recorded is `TelemetryRecorder`'s.
 */
export class SqlitePoolInstrumentation implements PoolTelemetry {
  readonly instrumentationName = INSTRUMENTATION_NAME;
  readonly instrumentationVersion = VERSION;
  #config: Resolved;
  #rawConfig: SqlitePoolInstrumentationConfig;
  #tracer: Tracer;
  #meterProvider: MeterProvider | undefined;
  #metrics: PoolMetrics | undefined;
  #enabled = false;
  /**
   * Rebuilt when the config or providers change, with a new generation, so cached per-statement
   * attributes are rebuilt too (a statement's cache outlives the instrumentation that filled it).
   */
  #recorder: TelemetryRecorder;

  constructor(config: SqlitePoolInstrumentationConfig = {}) {
    this.#rawConfig = config;
    this.#config = resolveConfig(config);
    this.#tracer = (config.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME, VERSION, { schemaUrl: sc.SCHEMA_URL });
    this.#meterProvider = config.meterProvider;
    this.#recorder = this.#newRecorder();
    if (this.#config.enabled) this.enable();
  }

  /** Starts reporting: from now on every pool in the process sends its spans and metrics here. */
  enable(): void {
    if (this.#metrics === undefined) this.#buildInstruments(this.#meterProvider ?? metrics.getMeterProvider());
    this.#enabled = true;
    telemetryRegistry.active = this;
  }

  /** Stops reporting; pools go back to their uninstrumented fast path. */
  disable(): void {
    this.#enabled = false;
    if (telemetryRegistry.active === this) telemetryRegistry.active = undefined;
    this.#metrics?.dispose();
    this.#metrics = undefined;
    this.#recorder = this.#newRecorder();
  }

  get isEnabled(): boolean {
    return this.#enabled;
  }

  setTracerProvider(tracerProvider: TracerProvider): void {
    this.#tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME, VERSION, { schemaUrl: sc.SCHEMA_URL });
    this.#recorder = this.#newRecorder();
  }

  /** Builds the instruments on this provider (the SDK calls it before `enable()`). */
  setMeterProvider(meterProvider: MeterProvider): void {
    this.#meterProvider = meterProvider;
    this.#metrics?.dispose();
    this.#metrics = undefined;
    this.#recorder = this.#newRecorder();
    if (this.#enabled) this.#buildInstruments(meterProvider);
  }

  setConfig(config: SqlitePoolInstrumentationConfig = {}): void {
    this.#rawConfig = config;
    this.#config = resolveConfig(config);
    this.#recorder = this.#newRecorder();
    if (config.tracerProvider !== undefined) this.setTracerProvider(config.tracerProvider);
    if (config.meterProvider !== undefined) this.setMeterProvider(config.meterProvider);
    else if (this.#enabled) this.setMeterProvider(this.#meterProvider ?? metrics.getMeterProvider());
  }

  getConfig(): SqlitePoolInstrumentationConfig {
    return { ...this.#rawConfig, enabled: this.#enabled };
  }

  #newRecorder(): TelemetryRecorder {
    return new TelemetryRecorder(this.#config, this.#tracer, this.#metrics, nextGeneration());
  }

  #buildInstruments(meterProvider: MeterProvider): void {
    const meter = meterProvider.getMeter(INSTRUMENTATION_NAME, VERSION, { schemaUrl: sc.SCHEMA_URL });
    this.#metrics = new PoolMetrics(meter, this.#config.operationDurationBuckets, (pool) => this.#recorder.poolName(pool));
    this.#recorder = this.#newRecorder();
    for (const pool of telemetryRegistry.pools) this.poolOpened(pool);
  }

  // --- the seam: each report guarded (the statements are the hot path: a bare try costs nothing) ---

  poolOpened(pool: ObservedPool): void {
    try {
      this.#recorder.poolOpened(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'poolOpened', error);
    }
  }

  statementStarted(pool: ObservedPool, connectionId: string, statement: StatementInfo, method: StatementMethod, args: ArrayLike<unknown>): TraceHandle | undefined {
    try {
      return this.#recorder.statementStarted(pool, connectionId, statement, method, args);
    } catch (error) {
      // The statement runs untraced.
      reportTelemetryFailure(pool, 'statementStarted', error);
      return undefined;
    }
  }

  statementEnded(pool: ObservedPool, statement: StatementInfo, method: StatementMethod, handle: TraceHandle | undefined, durationMs: number, error: unknown, result: unknown): void {
    try {
      this.#recorder.statementEnded(pool, statement, method, handle, durationMs, error, result);
    } catch (failure) {
      reportTelemetryFailure(pool, 'statementEnded', failure);
    }
  }

  acquireStarted(pool: ObservedPool): TraceHandle | undefined {
    try {
      return this.#recorder.acquireStarted(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'acquireStarted', error);
      return undefined;
    }
  }

  acquireEnded(pool: ObservedPool, handle: TraceHandle | undefined, waitMs: number, connectionId: string | undefined, error: unknown): void {
    try {
      this.#recorder.acquireEnded(pool, handle, waitMs, connectionId, error);
    } catch (failure) {
      reportTelemetryFailure(pool, 'acquireEnded', failure);
    }
  }

  connectionCreated(pool: ObservedPool, parent: TraceHandle | undefined, startedAt: number, durationMs: number, connectionId: string | undefined, error: unknown): void {
    try {
      this.#recorder.connectionCreated(pool, parent, startedAt, durationMs, connectionId, error);
    } catch (failure) {
      reportTelemetryFailure(pool, 'connectionCreated', failure);
    }
  }

  healthChecked(pool: ObservedPool, parent: TraceHandle | undefined, connection: HealthyConnection, result: HealthCheckResult, trigger: HealthCheckTrigger): void {
    try {
      this.#recorder.healthChecked(pool, parent, connection, result, trigger);
    } catch (error) {
      reportTelemetryFailure(pool, 'healthChecked', error);
    }
  }

  connectionClosed(pool: ObservedPool, connection: HealthyConnection, reason: CloseReason): void {
    try {
      this.#recorder.connectionClosed(pool, connection, reason);
    } catch (error) {
      reportTelemetryFailure(pool, 'connectionClosed', error);
    }
  }

  acquireTimedOut(pool: ObservedPool): void {
    try {
      this.#recorder.acquireTimedOut(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'acquireTimedOut', error);
    }
  }

  leaseReleased(pool: ObservedPool, useMs: number): void {
    try {
      this.#recorder.leaseReleased(pool, useMs);
    } catch (error) {
      reportTelemetryFailure(pool, 'leaseReleased', error);
    }
  }

  leakDetected(pool: ObservedPool): void {
    try {
      this.#recorder.leakDetected(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'leakDetected', error);
    }
  }

  monitorCycleStarted(pool: ObservedPool): TraceHandle | undefined {
    try {
      return this.#recorder.monitorCycleStarted(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'monitorCycleStarted', error);
      return undefined;
    }
  }

  monitorCycleEnded(handle: TraceHandle | undefined, probed: number, failed: number, pool?: ObservedPool): void {
    try {
      this.#recorder.monitorCycleEnded(handle, probed, failed);
    } catch (error) {
      reportTelemetryFailure(pool, 'monitorCycleEnded', error);
    }
  }
}
