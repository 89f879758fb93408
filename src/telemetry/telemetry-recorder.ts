import { SpanKind, context, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { LiveTracer } from './live-tracer.js';
import { errorType } from '../sqlite-errors.js';
import type { HealthCheckResult, HealthyConnection } from '../health/healthy-connection.js';
import { catchRejection } from '../rejections.js';
import type { StatementInfo } from './statement-info.js';
import { CLOSE_REASONS, type CloseReason } from './metric-definitions.js';
import type { PoolMetrics } from './pool-metrics.js';
import { reportTelemetryFailure, type HealthCheckTrigger, type ObservedPool, type PoolTelemetry, type StatementMethod, type TraceHandle } from './pool-telemetry.js';
import * as sc from './semconv.js';
import { statementTelemetry, type StatementTelemetry } from './statement-attributes.js';
import { pathHider } from './namespace.js';
import type { Resolved, SqlitePoolRequestHookInfo } from './instrumentation-config.js';
import { hideUnwrittenNames } from './error-text.js';
import { NO_PARAMETERS, endWithError, responseStatusCode, parameterAttributes, parentContext, spanTime } from './span-helpers.js';

/**
 * What each pool event records, for one configuration (options, tracer, instruments): a new
 * configuration is a new recorder. Its methods may throw (they call the SDK and user code); the
 * instrumentation calls them behind its guards. User hooks and the `poolName` function are
 * guarded here, closer in: their failure must not cost the span or the figure around them.
 */
export class TelemetryRecorder implements PoolTelemetry {
  readonly #config: Resolved;
  readonly #tracer: LiveTracer;
  readonly #metrics: PoolMetrics | undefined;
  /** Stamped on statements' cached attributes: unique across recorders and instrumentations. */
  readonly #generation: number;
  readonly #poolAttributeCache = new WeakMap<ObservedPool, Attributes>();

  constructor(config: Resolved, tracer: LiveTracer, metrics: PoolMetrics | undefined, generation: number) {
    this.#config = config;
    this.#tracer = tracer;
    this.#metrics = metrics;
    this.#generation = generation;
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

  /** The reported name; the pool's own when the `poolName` function throws (it is the user's code). */
  poolName(pool: ObservedPool): string {
    const option = this.#config.poolName;
    if (option === undefined) return pool.poolName;
    if (typeof option === 'string') return option;
    try {
      return option(pool);
    } catch (error) {
      reportTelemetryFailure(pool, 'poolName', error);
      return pool.poolName;
    }
  }

  /** Built once per pool (a new configuration is a new recorder): recorded on every lease. */
  #poolAttributes(pool: ObservedPool): Attributes {
    let attributes = this.#poolAttributeCache.get(pool);
    if (attributes === undefined) {
      attributes = Object.freeze({ [sc.ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: this.poolName(pool) });
      this.#poolAttributeCache.set(pool, attributes);
    }
    return attributes;
  }

  // --- statements (the hot path) -------------------------------------------------------------

  statementStarted(pool: ObservedPool, connectionId: string, statement: StatementInfo, method: StatementMethod, args: ArrayLike<unknown>): TraceHandle | undefined {
    const tracer = this.#tracer.current();
    if (tracer === undefined) return undefined;
    const cached = this.#statementTelemetry(pool, statement);
    const config = this.#config;
    const parent = context.active();
    if (config.requireParentSpan && trace.getSpan(parent) === undefined) return undefined;
    const span = tracer.startSpan(cached.spanName, { kind: SpanKind.CLIENT, attributes: cached.spanAttributes }, parent);
    if (span.isRecording()) {
      // exec() and pragma() take SQL text (and options), not bound values: nothing to report.
      const bound = statement.kind === 'prepared' ? args : NO_PARAMETERS;
      if (config.enhancedDatabaseReporting) span.setAttributes(parameterAttributes(bound));
      if (config.requestHook !== undefined) {
        const info: SqlitePoolRequestHookInfo = { sql: statement.source, method, connectionId, poolName: cached.poolName, params: Array.from(bound) };
        callHook(pool, 'requestHook', () => config.requestHook?.(span, info));
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
      if (responseHook !== undefined && span.isRecording()) callHook(pool, 'responseHook', () => responseHook(span, { method, result }));
      span.end();
      return;
    }
    const type = errorType(error);
    if (histogram !== undefined) {
      const failed: Attributes = { ...cached.metricAttributes, [sc.ATTR_ERROR_TYPE]: type };
      const status = responseStatusCode(error);
      if (status !== undefined) failed[sc.ATTR_DB_RESPONSE_STATUS_CODE] = status;
      histogram.record(durationMs / 1000, failed);
    }
    if (span !== undefined) endWithError(span, error, type, undefined, (text) => hideUnwrittenNames(text, statement.source));
  }

  /** What the statement's span and duration need, derived once per statement text (and config). */
  #statementTelemetry(pool: ObservedPool, statement: StatementInfo): StatementTelemetry {
    let cached = statement.telemetryCache as StatementTelemetry | undefined;
    if (cached === undefined || cached.generation !== this.#generation) {
      cached = statementTelemetry(statement, pool, this.poolName(pool), this.#config, this.#generation);
      statement.telemetryCache = cached;
    }
    return cached;
  }

  // --- pool events ---------------------------------------------------------------------------

  acquireStarted(pool: ObservedPool): TraceHandle | undefined {
    const tracer = this.#tracer.current();
    if (tracer === undefined || this.#config.ignoreAcquireSpans) return undefined;
    const parent = context.active();
    if (this.#config.requireParentSpan && trace.getSpan(parent) === undefined) return undefined;
    return tracer.startSpan(sc.SPAN_ACQUIRE, { kind: SpanKind.INTERNAL, attributes: this.#poolAttributes(pool) }, parent);
  }

  acquireEnded(pool: ObservedPool, handle: TraceHandle | undefined, waitMs: number, connectionId: string | undefined, error: unknown): void {
    if (error === undefined) this.#metrics?.histograms['db.client.connection.wait_time'].record(waitMs / 1000, this.#poolAttributes(pool));
    const span = handle as Span | undefined;
    if (span === undefined) return;
    if (connectionId !== undefined) span.setAttribute(sc.ATTR_SQLITE_POOL_CONNECTION_ID, connectionId);
    span.setAttribute(sc.ATTR_SQLITE_POOL_WAIT_MS, waitMs);
    if (error === undefined) span.end();
    else endWithError(span, error, errorType(error), undefined, pathHider(pool, this.#config.dbNamespace));
  }

  connectionCreated(pool: ObservedPool, parent: TraceHandle | undefined, startedAt: number, durationMs: number, connectionId: string | undefined, error: unknown): void {
    if (error === undefined) this.#metrics?.histograms['db.client.connection.create_time'].record(durationMs / 1000, this.#poolAttributes(pool));
    else this.#metrics?.counters['sqlite_pool.connection.open_failures'].add(1, { ...this.#poolAttributes(pool), [sc.ATTR_ERROR_TYPE]: openFailureType(error) });
    const tracer = this.#tracer.current();
    if (tracer === undefined) return;
    const span = tracer.startSpan(
      sc.SPAN_CONNECT,
      { kind: SpanKind.INTERNAL, startTime: spanTime(startedAt), attributes: this.#poolAttributes(pool) },
      parentContext(parent),
    );
    if (connectionId !== undefined) span.setAttribute(sc.ATTR_SQLITE_POOL_CONNECTION_ID, connectionId);
    if (error !== undefined) endWithError(span, error, errorType(error), spanTime(startedAt + durationMs), pathHider(pool, this.#config.dbNamespace));
    else span.end(spanTime(startedAt + durationMs));
  }

  healthChecked(pool: ObservedPool, parent: TraceHandle | undefined, connection: HealthyConnection, result: HealthCheckResult, trigger: HealthCheckTrigger): void {
    const attributes: Attributes = {
      ...this.#poolAttributes(pool),
      [sc.ATTR_SQLITE_POOL_HEALTH_CHECK_RESULT]: result.error === undefined ? 'success' : 'failure',
    };
    if (result.error !== undefined) attributes[sc.ATTR_ERROR_TYPE] = result.error.code;
    this.#metrics?.histograms['sqlite_pool.health_check.duration'].record(result.durationMs / 1000, attributes);
    const tracer = this.#tracer.current();
    if (!this.#config.healthCheckSpans || tracer === undefined) return;
    const span = tracer.startSpan(
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
    if (result.error !== undefined) endWithError(span, result.error, result.error.code, endTime, pathHider(pool, this.#config.dbNamespace));
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
    const tracer = this.#tracer.current();
    if (!this.#config.healthCheckSpans || tracer === undefined) return undefined;
    // Each cycle is its own trace: background work must not join whatever trace was active.
    return tracer.startSpan(sc.SPAN_MONITOR_CYCLE, { kind: SpanKind.INTERNAL, root: true, attributes: this.#poolAttributes(pool) });
  }

  monitorCycleEnded(handle: TraceHandle | undefined, probed: number, failed: number): void {
    const span = handle as Span | undefined;
    if (span === undefined) return;
    span.setAttributes({ [sc.ATTR_SQLITE_POOL_PROBED]: probed, [sc.ATTR_SQLITE_POOL_FAILED]: failed });
    span.end();
  }
}

/** A user hook, thrown or rejected, is reported to the pool; the statement and its span go on. */
function callHook(pool: ObservedPool, event: string, hook: () => unknown): void {
  const report = (error: unknown): void => reportTelemetryFailure(pool, event, error);
  try {
    catchRejection(hook(), report);
  } catch (error) {
    report(error);
  }
}

/** `error.type` of a failed open: the SQLite code behind the pool's ConnectionCreateError wrapper. */
function openFailureType(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return errorType(cause);
}
