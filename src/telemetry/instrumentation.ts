import { diag, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import type { HealthCheckResult, HealthyConnection } from '../health/healthy-connection.js';
import type { StatementInfo } from './statement-info.js';
import type { CloseReason } from './metric-definitions.js';
import { TelemetryProviders } from './telemetry-providers.js';
import { reportTelemetryFailure, telemetryRegistry, type HealthCheckTrigger, type ObservedPool, type PoolTelemetry, type StatementMethod, type TraceHandle } from './pool-telemetry.js';
import { VERSION } from '../version.js';
import { resolveConfig, type Resolved, type SqlitePoolInstrumentationConfig } from './instrumentation-config.js';
import { TelemetryRecorder } from './telemetry-recorder.js';
import { DISPLACED, activate, deactivate, describeTelemetry, nextInstanceNumber, type Displaceable } from './activation.js';

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
 * One instrumentation receives at a time, in the whole process: the one enabled last. The one it
 * displaces (any copy of the package) is disabled, detaches its gauges and says so once through
 * `diag.warn`; `enable()` makes it the active one again.
 *
 * The tracer and the instruments are resolved at the first pool event after `enable()` or a
 * change of provider or config, on the providers in effect then: `registerInstrumentations()` and
 * `NodeSDK` set theirs right after construction, and instruments are built once per provider.
 *
 * Every report from a pool goes through a guard here: the trace and metric pipelines run user
 * code (processors, exporters, samplers, views) on the pool's own paths, and a failure there is
 * handed to the pool (logged once, counted in `lifetime.telemetryFailures`) instead of breaking the
 * grant, statement or `initialize()` it was reporting. What is recorded is `TelemetryRecorder`'s.
 */
export class SqlitePoolInstrumentation implements PoolTelemetry, Displaceable {
  readonly instrumentationName = INSTRUMENTATION_NAME;
  readonly instrumentationVersion = VERSION;
  readonly #number = nextInstanceNumber();
  #config: Resolved;
  #rawConfig: SqlitePoolInstrumentationConfig;
  readonly #providers: TelemetryProviders;
  #enabled = false;
  /**
   * Enabled, and the tracer or instruments may not be those of the current providers and config:
   * the next pool event resolves them. One field read on every report, so that nothing is built
   * before the providers are known (nor twice when they are set after construction).
   */
  #pending = false;
  /**
   * Rebuilt when the config or providers change, with a new generation, so cached per-statement
   * attributes are rebuilt too (a statement's cache outlives the instrumentation that filled it).
   * Kept on disable: a statement that started while enabled still ends its span and its figure.
   */
  #recorder: TelemetryRecorder;

  constructor(config: SqlitePoolInstrumentationConfig = {}) {
    this.#rawConfig = config;
    this.#config = resolveConfig(config);
    this.#providers = new TelemetryProviders(
      { name: INSTRUMENTATION_NAME, version: VERSION },
      { poolNameOf: (pool) => this.#recorder.poolName(pool), reporting: () => telemetryRegistry.active === this },
      config.tracerProvider,
      config.meterProvider,
    );
    this.#recorder = this.#newRecorder();
    if (this.#config.enabled) this.enable();
  }

  /**
   * Starts reporting: from now on every pool in the process sends its spans and metrics here, and
   * no longer to the instrumentation enabled before, which is disabled (and says so).
   */
  enable(): void {
    if (this.#enabled && telemetryRegistry.active === this) return;
    this.#enabled = true;
    this.#pending = true;
    activate(this);
  }

  /** Stops reporting; pools go back to their uninstrumented fast path (unless another is active). */
  disable(): void {
    this.#enabled = false;
    this.#pending = false;
    deactivate(this);
    this.#providers.detach();
  }

  /** Another instrumentation was enabled in this one's place (see `activate()`). */
  [DISPLACED](by: PoolTelemetry | undefined): void {
    if (!this.#enabled) return;
    this.disable();
    try {
      diag.warn(
        `otel-sqlite-pool: ${describeTelemetry(by)} was enabled and takes the place of ${String(this)}, which is now disabled ` +
          `(one instrumentation at a time receives the pools' spans and metrics; enable() on it switches back).`,
      );
    } catch {
      // A diag logger that throws: the switch is made, only the warning is lost.
    }
  }

  /** False once another instrumentation took this one's place, even one from an older copy that did not say so. */
  get isEnabled(): boolean {
    // An older copy of the package takes the active slot without telling this one.
    if (this.#enabled && telemetryRegistry.active !== this) this[DISPLACED](telemetryRegistry.active);
    return this.#enabled;
  }

  setTracerProvider(tracerProvider: TracerProvider): void {
    if (tracerProvider === this.#providers.tracerProvider) return;
    this.#providers.tracerProvider = tracerProvider;
    this.#pending = this.#enabled;
  }

  /** Instruments are built on this provider at the next pool event (the SDK calls it before `enable()`). */
  setMeterProvider(meterProvider: MeterProvider): void {
    if (meterProvider === this.#providers.meterProvider) return;
    this.#providers.meterProvider = meterProvider;
    this.#pending = this.#enabled;
  }

  setConfig(config: SqlitePoolInstrumentationConfig = {}): void {
    this.#rawConfig = config;
    this.#config = resolveConfig(config);
    if (config.tracerProvider !== undefined) this.#providers.tracerProvider = config.tracerProvider;
    if (config.meterProvider !== undefined) this.#providers.meterProvider = config.meterProvider;
    // Resolved at the next pool event (a disabled one's, after its next enable()): new buckets are new instruments.
    this.#pending = this.#enabled;
  }

  getConfig(): SqlitePoolInstrumentationConfig {
    return { ...this.#rawConfig, enabled: this.isEnabled };
  }

  /** How warnings name it: instances are numbered in the order they were created in the process. */
  toString(): string {
    return `SqlitePoolInstrumentation #${this.#number} (${INSTRUMENTATION_NAME} ${VERSION})`;
  }

  #newRecorder(): TelemetryRecorder {
    return new TelemetryRecorder(this.#config, this.#providers.tracer, this.#providers.metrics, nextGeneration());
  }

  /** The first pool event since `enable()` or a change: what changed is built, and every open pool reported. */
  #resolve(pool: ObservedPool | undefined): void {
    this.#pending = false;
    this.#providers.resolve(pool, this.#config.operationDurationBuckets);
    this.#recorder = this.#newRecorder();
    for (const open of telemetryRegistry.pools) this.poolOpened(open);
  }

  // --- the seam: each report guarded (the statements are the hot path: a bare try costs nothing) ---

  poolOpened(pool: ObservedPool): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.poolOpened(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'poolOpened', error);
    }
  }

  statementStarted(pool: ObservedPool, connectionId: string, statement: StatementInfo, method: StatementMethod, args: ArrayLike<unknown>): TraceHandle | undefined {
    if (this.#pending) this.#resolve(pool);
    try {
      return this.#recorder.statementStarted(pool, connectionId, statement, method, args);
    } catch (error) {
      // The statement runs untraced.
      reportTelemetryFailure(pool, 'statementStarted', error);
      return undefined;
    }
  }

  statementEnded(pool: ObservedPool, statement: StatementInfo, method: StatementMethod, handle: TraceHandle | undefined, durationMs: number, error: unknown, result: unknown): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.statementEnded(pool, statement, method, handle, durationMs, error, result);
    } catch (failure) {
      reportTelemetryFailure(pool, 'statementEnded', failure);
    }
  }

  acquireStarted(pool: ObservedPool): TraceHandle | undefined {
    if (this.#pending) this.#resolve(pool);
    try {
      return this.#recorder.acquireStarted(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'acquireStarted', error);
      return undefined;
    }
  }

  acquireEnded(pool: ObservedPool, handle: TraceHandle | undefined, waitMs: number, connectionId: string | undefined, error: unknown): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.acquireEnded(pool, handle, waitMs, connectionId, error);
    } catch (failure) {
      reportTelemetryFailure(pool, 'acquireEnded', failure);
    }
  }

  connectionCreated(pool: ObservedPool, parent: TraceHandle | undefined, startedAt: number, durationMs: number, connectionId: string | undefined, error: unknown): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.connectionCreated(pool, parent, startedAt, durationMs, connectionId, error);
    } catch (failure) {
      reportTelemetryFailure(pool, 'connectionCreated', failure);
    }
  }

  healthChecked(pool: ObservedPool, parent: TraceHandle | undefined, connection: HealthyConnection, result: HealthCheckResult, trigger: HealthCheckTrigger): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.healthChecked(pool, parent, connection, result, trigger);
    } catch (error) {
      reportTelemetryFailure(pool, 'healthChecked', error);
    }
  }

  connectionClosed(pool: ObservedPool, connection: HealthyConnection, reason: CloseReason): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.connectionClosed(pool, connection, reason);
    } catch (error) {
      reportTelemetryFailure(pool, 'connectionClosed', error);
    }
  }

  acquireTimedOut(pool: ObservedPool): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.acquireTimedOut(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'acquireTimedOut', error);
    }
  }

  leaseReleased(pool: ObservedPool, useMs: number): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.leaseReleased(pool, useMs);
    } catch (error) {
      reportTelemetryFailure(pool, 'leaseReleased', error);
    }
  }

  leakDetected(pool: ObservedPool): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.leakDetected(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'leakDetected', error);
    }
  }

  monitorCycleStarted(pool: ObservedPool): TraceHandle | undefined {
    if (this.#pending) this.#resolve(pool);
    try {
      return this.#recorder.monitorCycleStarted(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'monitorCycleStarted', error);
      return undefined;
    }
  }

  monitorCycleEnded(handle: TraceHandle | undefined, probed: number, failed: number, pool?: ObservedPool): void {
    if (this.#pending) this.#resolve(pool);
    try {
      this.#recorder.monitorCycleEnded(handle, probed, failed);
    } catch (error) {
      reportTelemetryFailure(pool, 'monitorCycleEnded', error);
    }
  }
}
