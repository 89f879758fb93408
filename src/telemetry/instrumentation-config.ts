import type { MeterProvider, Span, TracerProvider } from '@opentelemetry/api';
import type { StatementMethod } from './pool-telemetry.js';
import type { DbNamespaceOption } from './namespace.js';

/** What `requestHook` receives: the statement about to run. */
export interface SqlitePoolRequestHookInfo {
  /**
   * The SQL text exactly as the caller wrote it, literals and comments included: the hook is the
   * caller's own code, in the caller's process. `db.query.text` on the span is sanitised; a hook
   * that copies `sql` onto the span or elsewhere exports what the sanitiser removed.
   */
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
  /** What better-sqlite3 returned (rows, a RunResult); undefined for `iterate` (the rows went to the caller). */
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
   * That is all it adds: `db.query.text` and recorded error messages are sanitised either way.
   * @default false
   */
  enhancedDatabaseReporting?: boolean;
  /**
   * The `db.namespace` reported on statement spans and `db.client.operation.duration` points:
   * `'fileName'`, the database file's name (`app.db`; `:memory:` and `''` as they are), so the
   * host's directory layout stays out of the telemetry; `'path'`, the filename as the pool was
   * given it (`/srv/acme/data/app.db`); or a function of the pool, called once per pool. A function
   * that throws is counted as for `requestHook`, and the file name is reported.
   * @default 'fileName'
   */
  dbNamespace?: DbNamespaceOption;
  /**
   * Truncate `db.query.text` to this many characters.
   * @default 2048
   */
  maxQueryLength?: number;
  /**
   * Called with each statement span before the statement runs. An error it throws, or a promise it
   * returns that rejects, is caught: counted in the pool's `lifetime.telemetryFailures` (the first
   * one logged), and the statement runs on.
   */
  requestHook?: (span: Span, info: SqlitePoolRequestHookInfo) => void;
  /**
   * Called with each statement span after the statement returned (for `iterate`, when the
   * iteration ended: the span lasts until the rows are read). Errors are caught and counted as
   * for `requestHook`.
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
   * The `db.client.connection.pool.name` reported for a pool. A function that throws is counted as
   * for `requestHook`, and that pool is reported under its own `poolName`.
   * @default each pool's own `poolName`
   */
  poolName?: string | ((pool: { readonly poolName: string; readonly namespace: string }) => string);
  /** A tracer provider to use instead of the global one. @default the global provider */
  tracerProvider?: TracerProvider;
  /** A meter provider to use instead of the global one. @default the global provider */
  meterProvider?: MeterProvider;
}

/** The options with their defaults applied. */
export type Resolved = Required<Pick<SqlitePoolInstrumentationConfig, 'enabled' | 'requireParentSpan' | 'enhancedDatabaseReporting' | 'dbNamespace' | 'maxQueryLength' | 'ignoreAcquireSpans' | 'healthCheckSpans'>> &
  Pick<SqlitePoolInstrumentationConfig, 'requestHook' | 'responseHook' | 'operationDurationBuckets' | 'poolName'>;

export function resolveConfig(config: SqlitePoolInstrumentationConfig): Resolved {
  return {
    enabled: config.enabled ?? true,
    requireParentSpan: config.requireParentSpan ?? false,
    enhancedDatabaseReporting: config.enhancedDatabaseReporting ?? false,
    dbNamespace: config.dbNamespace ?? 'fileName',
    maxQueryLength: config.maxQueryLength ?? 2048,
    ignoreAcquireSpans: config.ignoreAcquireSpans ?? false,
    healthCheckSpans: config.healthCheckSpans ?? true,
    requestHook: config.requestHook,
    responseHook: config.responseHook,
    operationDurationBuckets: config.operationDurationBuckets,
    poolName: config.poolName,
  };
}

