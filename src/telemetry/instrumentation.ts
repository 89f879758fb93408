import {
  SpanKind,
  SpanStatusCode,
  context,
  metrics,
  trace,
  type Attributes,
  type MeterProvider,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { errorType, sqliteCode } from '../sqlite-errors.js';
import type { HealthCheckResult, HealthyConnection } from '../health/healthy-connection.js';
import type { StatementInfo } from '../lease/statement-catalog.js';
import { CLOSE_REASONS, type CloseReason } from './metric-definitions.js';
import { PoolMetrics } from './pool-metrics.js';
import { telemetryRegistry, type HealthCheckTrigger, type ObservedPool, type PoolTelemetry, type StatementMethod, type TraceHandle } from './pool-telemetry.js';
import * as sc from './semconv.js';
import { statementTelemetry, type StatementTelemetry } from './statement-attributes.js';
import { VERSION } from '../version.js';

/** What `requestHook` receives: the statement about to run. */
export interface SqlitePoolRequestHookInfo {
  /** The SQL text as written (parameterised for prepared statements). */
  readonly sql: string;
  readonly method: StatementMethod;
  readonly connectionId: string;
  readonly poolName: string;
  /** The bound parameters, as passed (positional values, or one object of named values); empty for `exec` and `pragma`. */
  readonly params: readonly unknown[];
}

/** What `responseHook` receives: the statement's result. */
export interface SqlitePoolResponseHookInfo {
  readonly method: StatementMethod;
  /** What better-sqlite3 returned (rows, a RunResult, or an iterator for `iterate`). */
  readonly result: unknown;
}

/** Options of {@link SqlitePoolInstrumentation}, named as the contrib database instrumentations name them. */
export interface SqlitePoolInstrumentationConfig {
  /**
   * Enable at construction.
   * @default true
   */
  enabled?: boolean;
  /**
   * Create statement and acquire spans only inside an existing trace (metrics are always recorded).
   * @default false
   */
  requireParentSpan?: boolean;
  /**
   * Record bound values as `db.query.parameter.<key>` span attributes. They may hold personal data.
   * @default false
   */
  enhancedDatabaseReporting?: boolean;
  /**
   * Truncate `db.query.text` to this many characters.
   * @default 2048
   */
  maxQueryLength?: number;
  /** Called with each statement span before the statement runs. Errors it throws are swallowed. */
  requestHook?: (span: Span, info: SqlitePoolRequestHookInfo) => void;
  /**
   * Called with each statement span after the statement returned (for `iterate`, when the iterator
   * is returned: the span stays open until the rows are read). Errors it throws are swallowed.
   */
  responseHook?: (span: Span, info: SqlitePoolResponseHookInfo) => void;
  /**
   * Skip `sqlite_pool.acquire` spans (the wait time histogram is still recorded).
   * @default false
   */
  ignoreAcquireSpans?: boolean;
  /**
   * Emit `sqlite_pool.health_check` and `sqlite_pool.health_monitor.cycle` spans. Probe metrics are
   * always recorded.
   * @default true
   */
  healthCheckSpans?: boolean;
  /**
   * Bucket boundaries (seconds) for `db.client.operation.duration`; a View overrides them too.
   * @default [0.00001, 0.000025, ..., 10] (from 10 µs)
   */
  operationDurationBuckets?: readonly number[];
  /**
   * The `db.client.connection.pool.name` reported for a pool.
   * @default each pool's own `poolName`
   */
  poolName?: string | ((pool: { readonly poolName: string; readonly namespace: string }) => string);
  /** A tracer provider to use instead of the global one. @default the global provider */
  tracerProvider?: TracerProvider;
  /** A meter provider to use instead of the global one. @default the global provider */
  meterProvider?: MeterProvider;
}

export const INSTRUMENTATION_NAME = 'otel-sqlite-pool';

/** Process-wide (like the telemetry registry), so no two instances ever share a generation. */
const GENERATION_KEY = Symbol.for('otel-sqlite-pool.telemetry-generation.v1');
const generations = ((globalThis as { [GENERATION_KEY]?: { last: number } })[GENERATION_KEY] ??= { last: 0 });
function nextGeneration(): number {
  return ++generations.last;
}

type Resolved = Required<Pick<SqlitePoolInstrumentationConfig, 'enabled' | 'requireParentSpan' | 'enhancedDatabaseReporting' | 'maxQueryLength' | 'ignoreAcquireSpans' | 'healthCheckSpans'>> &
  Pick<SqlitePoolInstrumentationConfig, 'requestHook' | 'responseHook' | 'operationDurationBuckets' | 'poolName'>;

/**
 * Telemetry for every pool in the process. It implements the `Instrumentation` interface of
 * `@opentelemetry/instrumentation` without patching anything (the pool reports to it), so
 * `registerInstrumentations({ instrumentations: [new SqlitePoolInstrumentation()] })` and
 * `new NodeSDK({ instrumentations: [...] })` both work, for pools created before or after.
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
   * Renewed when the config or providers change, so cached per-statement attributes are rebuilt.
   * Unique across instances: a statement's cache outlives the instrumentation that filled it.
   */
  #generation = 0;
  readonly #poolAttributeCache = new WeakMap<ObservedPool, { generation: number; attributes: Attributes }>();

  constructor(config: SqlitePoolInstrumentationConfig = {}) {
    this.#rawConfig = config;
    this.#config = resolveConfig(config);
    this.#tracer = (config.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME, VERSION, { schemaUrl: sc.SCHEMA_URL });
    this.#meterProvider = config.meterProvider;
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
  }

  get isEnabled(): boolean {
    return this.#enabled;
  }

  setTracerProvider(tracerProvider: TracerProvider): void {
    this.#tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME, VERSION, { schemaUrl: sc.SCHEMA_URL });
    this.#generation = nextGeneration();
  }

  /** Builds the instruments on this provider (the SDK calls it before `enable()`). */
  setMeterProvider(meterProvider: MeterProvider): void {
    this.#meterProvider = meterProvider;
    this.#metrics?.dispose();
    this.#metrics = undefined;
    if (this.#enabled) this.#buildInstruments(meterProvider);
  }

  setConfig(config: SqlitePoolInstrumentationConfig = {}): void {
    this.#rawConfig = config;
    this.#config = resolveConfig(config);
    this.#generation = nextGeneration();
    if (config.tracerProvider !== undefined) this.setTracerProvider(config.tracerProvider);
    if (config.meterProvider !== undefined) this.setMeterProvider(config.meterProvider);
    else if (this.#enabled) this.setMeterProvider(this.#meterProvider ?? metrics.getMeterProvider());
  }

  getConfig(): SqlitePoolInstrumentationConfig {
    return { ...this.#rawConfig, enabled: this.#enabled };
  }

  #buildInstruments(meterProvider: MeterProvider): void {
    const meter = meterProvider.getMeter(INSTRUMENTATION_NAME, VERSION, { schemaUrl: sc.SCHEMA_URL });
    this.#metrics = new PoolMetrics(meter, this.#config.operationDurationBuckets, (pool) => this.#poolName(pool));
    this.#generation = nextGeneration();
    for (const pool of telemetryRegistry.pools) this.poolOpened(pool);
  }

  poolOpened(pool: ObservedPool): void {
    const m = this.#metrics;
    if (m === undefined) return;
    const attributes = this.#poolAttributes(pool);
    m.counters['db.client.connection.timeouts'].add(0, attributes);
    m.counters['sqlite_pool.connection.leaks'].add(0, attributes);
    // Without error.type: the series a sum over the pool reads as 0 until the first failure.
    m.counters['sqlite_pool.connection.open_failures'].add(0, attributes);
    for (const reason of CLOSE_REASONS) m.counters['sqlite_pool.connection.closed'].add(0, { ...attributes, [sc.ATTR_SQLITE_POOL_CLOSE_REASON]: reason });
  }

  #poolName(pool: ObservedPool): string {
    const option = this.#config.poolName;
    if (option === undefined) return pool.poolName;
    return typeof option === 'string' ? option : option(pool);
  }

  /** Built once per pool (and rebuilt when the config changes): recorded on every lease. */
  #poolAttributes(pool: ObservedPool): Attributes {
    const cached = this.#poolAttributeCache.get(pool);
    if (cached !== undefined && cached.generation === this.#generation) return cached.attributes;
    const attributes = Object.freeze({ [sc.ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: this.#poolName(pool) });
    this.#poolAttributeCache.set(pool, { generation: this.#generation, attributes });
    return attributes;
  }

  // --- statements (the hot path) -------------------------------------------------------------

  statementStarted(pool: ObservedPool, connectionId: string, statement: StatementInfo, method: StatementMethod, args: ArrayLike<unknown>): TraceHandle | undefined {
    const cached = this.#statementTelemetry(pool, statement);
    const config = this.#config;
    const parent = context.active();
    if (config.requireParentSpan && trace.getSpan(parent) === undefined) return undefined;
    const span = this.#tracer.startSpan(cached.spanName, { kind: SpanKind.CLIENT, attributes: cached.spanAttributes }, parent);
    if (span.isRecording()) {
      // exec() and pragma() take SQL text (and options), not bound values: nothing to report.
      const bound = statement.kind === 'prepared' ? args : NO_PARAMETERS;
      if (config.enhancedDatabaseReporting) span.setAttributes(parameterAttributes(bound));
      if (config.requestHook !== undefined) {
        const info: SqlitePoolRequestHookInfo = { sql: statement.source, method, connectionId, poolName: cached.poolName, params: Array.from(bound) };
        safely(() => config.requestHook?.(span, info));
      }
    }
    return span;
  }

  statementEnded(pool: ObservedPool, statement: StatementInfo, method: StatementMethod, handle: TraceHandle | undefined, durationMs: number, error: unknown, result: unknown): void {
    const cached = this.#statementTelemetry(pool, statement);
    const histogram = this.#metrics?.histograms['db.client.operation.duration'];
    const span = handle as Span | undefined;
    if (error === undefined) {
      histogram?.record(durationMs / 1000, cached.metricAttributes);
      if (span === undefined) return;
      const responseHook = this.#config.responseHook;
      if (responseHook !== undefined && span.isRecording()) safely(() => responseHook(span, { method, result }));
      span.end();
      return;
    }
    const type = errorType(error);
    histogram?.record(durationMs / 1000, { ...cached.metricAttributes, [sc.ATTR_ERROR_TYPE]: type });
    if (span !== undefined) endWithError(span, error, type);
  }

  /** What the statement's span and duration need, derived once per statement text (and config). */
  #statementTelemetry(pool: ObservedPool, statement: StatementInfo): StatementTelemetry {
    let cached = statement.telemetryCache as StatementTelemetry | undefined;
    if (cached === undefined || cached.generation !== this.#generation) {
      cached = statementTelemetry(statement, pool, this.#poolName(pool), this.#config.maxQueryLength, this.#generation);
      statement.telemetryCache = cached;
    }
    return cached;
  }

  // --- pool events ---------------------------------------------------------------------------

  acquireStarted(pool: ObservedPool): TraceHandle | undefined {
    if (this.#config.ignoreAcquireSpans) return undefined;
    const parent = context.active();
    if (this.#config.requireParentSpan && trace.getSpan(parent) === undefined) return undefined;
    return this.#tracer.startSpan(sc.SPAN_ACQUIRE, { kind: SpanKind.INTERNAL, attributes: this.#poolAttributes(pool) }, parent);
  }

  acquireEnded(pool: ObservedPool, handle: TraceHandle | undefined, waitMs: number, connectionId: string | undefined, error: unknown): void {
    if (error === undefined) this.#metrics?.histograms['db.client.connection.wait_time'].record(waitMs / 1000, this.#poolAttributes(pool));
    const span = handle as Span | undefined;
    if (span === undefined) return;
    if (connectionId !== undefined) span.setAttribute(sc.ATTR_SQLITE_POOL_CONNECTION_ID, connectionId);
    span.setAttribute(sc.ATTR_SQLITE_POOL_WAIT_MS, waitMs);
    if (error === undefined) span.end();
    else endWithError(span, error, errorType(error));
  }

  connectionCreated(pool: ObservedPool, parent: TraceHandle | undefined, startedAt: number, durationMs: number, connectionId: string | undefined, error: unknown): void {
    if (error === undefined) this.#metrics?.histograms['db.client.connection.create_time'].record(durationMs / 1000, this.#poolAttributes(pool));
    else this.#metrics?.counters['sqlite_pool.connection.open_failures'].add(1, { ...this.#poolAttributes(pool), [sc.ATTR_ERROR_TYPE]: openFailureType(error) });
    const span = this.#tracer.startSpan(
      sc.SPAN_CONNECT,
      { kind: SpanKind.INTERNAL, startTime: spanTime(startedAt), attributes: this.#poolAttributes(pool) },
      parentContext(parent),
    );
    if (connectionId !== undefined) span.setAttribute(sc.ATTR_SQLITE_POOL_CONNECTION_ID, connectionId);
    if (error !== undefined) endWithError(span, error, errorType(error), spanTime(startedAt + durationMs));
    else span.end(spanTime(startedAt + durationMs));
  }

  healthChecked(pool: ObservedPool, parent: TraceHandle | undefined, connection: HealthyConnection, result: HealthCheckResult, trigger: HealthCheckTrigger): void {
    const attributes: Attributes = {
      ...this.#poolAttributes(pool),
      [sc.ATTR_SQLITE_POOL_HEALTH_CHECK_RESULT]: result.error === undefined ? 'success' : 'failure',
    };
    if (result.error !== undefined) attributes[sc.ATTR_ERROR_TYPE] = result.error.code;
    this.#metrics?.histograms['sqlite_pool.health_check.duration'].record(result.durationMs / 1000, attributes);
    if (!this.#config.healthCheckSpans) return;
    const span = this.#tracer.startSpan(
      sc.SPAN_HEALTH_CHECK,
      {
        kind: SpanKind.INTERNAL,
        startTime: spanTime(result.startedAt),
        attributes: {
          ...attributes,
          [sc.ATTR_SQLITE_POOL_CONNECTION_ID]: connection.connectionId,
          [sc.ATTR_SQLITE_POOL_HEALTH_CHECK_TRIGGER]: trigger,
          [sc.ATTR_SQLITE_POOL_PREVIOUS_STATUS]: result.statusBefore,
          [sc.ATTR_SQLITE_POOL_CONNECTION_STATUS]: result.statusAfter,
        },
      },
      parentContext(parent),
    );
    if (result.statusBefore !== result.statusAfter) {
      span.addEvent('status_change', { from: result.statusBefore, to: result.statusAfter }, spanTime(result.startedAt + result.durationMs));
    }
    const endTime = spanTime(result.startedAt + result.durationMs);
    if (result.error !== undefined) endWithError(span, result.error, result.error.code, endTime);
    else span.end(endTime);
  }

  connectionClosed(pool: ObservedPool, connection: HealthyConnection, reason: CloseReason): void {
    const m = this.#metrics;
    if (m === undefined) return;
    const attributes = { ...this.#poolAttributes(pool), [sc.ATTR_SQLITE_POOL_CLOSE_REASON]: reason };
    m.counters['sqlite_pool.connection.closed'].add(1, attributes);
    m.histograms['sqlite_pool.connection.lifetime'].record(connection.ageMs / 1000, attributes);
  }

  acquireTimedOut(pool: ObservedPool): void {
    this.#metrics?.counters['db.client.connection.timeouts'].add(1, this.#poolAttributes(pool));
  }

  leaseReleased(pool: ObservedPool, useMs: number): void {
    this.#metrics?.histograms['db.client.connection.use_time'].record(useMs / 1000, this.#poolAttributes(pool));
  }

  leakDetected(pool: ObservedPool): void {
    this.#metrics?.counters['sqlite_pool.connection.leaks'].add(1, this.#poolAttributes(pool));
  }

  monitorCycleStarted(pool: ObservedPool): TraceHandle | undefined {
    if (!this.#config.healthCheckSpans) return undefined;
    // Each cycle is its own trace: background work must not join whatever trace was active.
    return this.#tracer.startSpan(sc.SPAN_MONITOR_CYCLE, { kind: SpanKind.INTERNAL, root: true, attributes: this.#poolAttributes(pool) });
  }

  monitorCycleEnded(handle: TraceHandle | undefined, probed: number, failed: number): void {
    const span = handle as Span | undefined;
    if (span === undefined) return;
    span.setAttributes({ [sc.ATTR_SQLITE_POOL_PROBED]: probed, [sc.ATTR_SQLITE_POOL_FAILED]: failed });
    span.end();
  }
}

function resolveConfig(config: SqlitePoolInstrumentationConfig): Resolved {
  return {
    enabled: config.enabled ?? true,
    requireParentSpan: config.requireParentSpan ?? false,
    enhancedDatabaseReporting: config.enhancedDatabaseReporting ?? false,
    maxQueryLength: config.maxQueryLength ?? 2048,
    ignoreAcquireSpans: config.ignoreAcquireSpans ?? false,
    healthCheckSpans: config.healthCheckSpans ?? true,
    requestHook: config.requestHook,
    responseHook: config.responseHook,
    operationDurationBuckets: config.operationDurationBuckets,
    poolName: config.poolName,
  };
}

/** `error.type` of a failed open: the SQLite code behind the pool's ConnectionCreateError wrapper. */
function openFailureType(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return errorType(cause);
}

function endWithError(span: Span, error: unknown, type: string, endTime?: number): void {
  // Only a code SQLite returned is a database response; the pool's own codes (SQLITE_POOL_*) are not.
  const code = sqliteCode(error);
  if (code !== undefined && !code.startsWith('SQLITE_POOL_')) span.setAttribute(sc.ATTR_DB_RESPONSE_STATUS_CODE, code);
  span.setAttribute(sc.ATTR_ERROR_TYPE, type);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end(endTime);
}

const NO_PARAMETERS: ArrayLike<unknown> = [];

/** Bound values as `db.query.parameter.<index or name>` (only with enhancedDatabaseReporting). */
function parameterAttributes(args: ArrayLike<unknown>): Attributes {
  const attributes: Attributes = {};
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)) {
      for (const [key, named] of Object.entries(value)) attributes[`${sc.ATTR_DB_QUERY_PARAMETER_PREFIX}${key}`] = String(named);
    } else if (Array.isArray(value)) {
      value.forEach((item, j) => (attributes[`${sc.ATTR_DB_QUERY_PARAMETER_PREFIX}${j}`] = String(item)));
    } else {
      attributes[`${sc.ATTR_DB_QUERY_PARAMETER_PREFIX}${i}`] = value instanceof Uint8Array ? `<${value.length} bytes>` : String(value);
    }
  }
  return attributes;
}

function parentContext(handle: TraceHandle | undefined) {
  return handle === undefined ? context.active() : trace.setSpan(context.active(), handle as Span);
}

/**
 * A `performance.now()` time, passed to the SDK as is: it takes a number below the current
 * `performance.now()` for a performance timestamp and aligns it with the wall clock the SDK's own
 * spans use (`Date.now()`). `performance.timeOrigin + ms` would not be aligned: the wall clock
 * drifts from the monotonic one (NTP), and children would sit outside their parents.
 */
function spanTime(monotonicMs: number): number {
  return monotonicMs;
}

function safely(hook: () => void): void {
  try {
    hook();
  } catch {
    // A user hook must never break the query it observes.
  }
}
