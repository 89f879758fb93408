import type { HealthCheckResult, HealthyConnection } from '../health/healthy-connection.js';
import type { CloseReason } from '../health/status.js';
import type { StatementInfo } from './statement-info.js';

/**
 * The seam between the pool and OpenTelemetry. The pool reports what happens through this
 * interface; `SqlitePoolInstrumentation` implements it when enabled. The pool itself never
 * imports the OpenTelemetry SDK, and with no instrumentation enabled every hook is skipped
 * behind a single `undefined` check.
 */

/**
 * The statement methods the pool reports. `prepare` is reported only when preparing fails (a
 * syntax error is the statement's failure).
 */
export type StatementMethod = 'run' | 'get' | 'all' | 'iterate' | 'exec' | 'pragma' | 'prepare';

/**
 * Why a probe ran: a borrower needed it, a monitoring cycle, a new connection, a connection-level
 * error that may concern another file (the probe decides), or user code.
 */
export type HealthCheckTrigger = 'borrow' | 'monitor' | 'connect' | 'error' | 'manual';

/** What telemetry may read from a pool: its name, database and current numbers. */
export interface ObservedPool {
  readonly poolName: string;
  /** `db.namespace`: the database file as configured. */
  readonly namespace: string;
  readonly snapshot: () => PoolGaugeSnapshot;
  /**
   * Telemetry failed while it reported `event` (a span processor or exporter that threw, a
   * `poolName` function, a hook): the pool logs it and counts it, and goes on. Optional: a pool
   * from another copy of the package may not have it.
   */
  readonly telemetryFailed?: (event: string, error: unknown) => void;
}

/** Pool state read at metric collection time (observable instruments). */
export interface PoolGaugeSnapshot {
  readonly idle: number;
  readonly used: number;
  readonly pending: number;
  readonly max: number;
  readonly idleMax: number;
  readonly idleMin: number;
  readonly byStatus: Readonly<Record<'healthy' | 'unhealthy' | 'stale' | 'expired', number>>;
  /** Open connections: the age and usage figures describe these (none: the figures are 0). */
  readonly open: number;
  readonly ageSeconds: { readonly max: number; readonly average: number };
  readonly usage: { readonly max: number; readonly average: number };
}

/** An opaque handle on a span that telemetry started (an acquire wait, a monitoring cycle). */
export type TraceHandle = object;

/**
 * What the pool reports. No method throws: telemetry runs user code (span processors, exporters,
 * samplers, hooks, a `poolName` function) on the pool's own paths, between a release and the
 * grant of the next waiter, before a statement, inside `initialize()`. A failure there is caught,
 * handed to `pool.telemetryFailed`, and the pool's work goes on without that report.
 */
export interface PoolTelemetry {
  /** A pool opened: counters start at 0 so that the first increment is visible to `increase()`. */
  poolOpened(pool: ObservedPool): void;
  /**
   * A statement starts: returns its span (an opaque handle), if one is recorded. `args` are the
   * bound parameters as the caller passed them (empty for scripts).
   */
  statementStarted(pool: ObservedPool, connectionId: string, statement: StatementInfo, method: StatementMethod, args: ArrayLike<unknown>): TraceHandle | undefined;
  /**
   * The statement ended, after `durationMs` (lock waits included): with `error` undefined when it
   * succeeded, and what it returned (an iterator's end has none).
   */
  statementEnded(pool: ObservedPool, statement: StatementInfo, method: StatementMethod, span: TraceHandle | undefined, durationMs: number, error: unknown, result: unknown): void;
  /** A caller starts waiting for a lease. Returns a handle for the child spans, if any. */
  acquireStarted(pool: ObservedPool): TraceHandle | undefined;
  /** The wait ended: with a lease (`error` undefined), a timeout or another error. */
  acquireEnded(pool: ObservedPool, handle: TraceHandle | undefined, waitMs: number, connectionId: string | undefined, error: unknown): void;
  /** A connection was opened (or failed to open); `parent` is the acquire that asked for it. */
  connectionCreated(pool: ObservedPool, parent: TraceHandle | undefined, startedAt: number, durationMs: number, connectionId: string | undefined, error: unknown): void;
  /** A probe ran; `parent` is an acquire (borrow-time probe) or a monitoring cycle. */
  healthChecked(pool: ObservedPool, parent: TraceHandle | undefined, connection: HealthyConnection, result: HealthCheckResult, trigger: HealthCheckTrigger): void;
  connectionClosed(pool: ObservedPool, connection: HealthyConnection, reason: CloseReason): void;
  acquireTimedOut(pool: ObservedPool): void;
  leaseReleased(pool: ObservedPool, useMs: number): void;
  leakDetected(pool: ObservedPool): void;
  /** A monitoring cycle starts; its probes are children of the returned handle. */
  monitorCycleStarted(pool: ObservedPool): TraceHandle | undefined;
  /** `pool` is last, and optional, for pools of copies of the package that do not pass it. */
  monitorCycleEnded(handle: TraceHandle | undefined, probed: number, failed: number, pool?: ObservedPool): void;
}

interface TelemetryRegistry {
  /**
   * The enabled instrumentation, if any: the pools report to it alone. This copy sets it through
   * `activate()` (activation.ts), which tells the one it displaces; older copies set it directly.
   */
  active: PoolTelemetry | undefined;
  /** Pools that are open: observable instruments read them at collection time. */
  readonly pools: Set<ObservedPool>;
}

/**
 * Process-wide, keyed on a global symbol, so two copies of the package (ESM and CJS, or two
 * versions) and an instrumentation registered before or after a pool was created all meet here.
 */
const REGISTRY_KEY = Symbol.for('otel-sqlite-pool.telemetry-registry.v1');
const globalSlot = globalThis as { [REGISTRY_KEY]?: TelemetryRegistry };
export const telemetryRegistry: TelemetryRegistry = (globalSlot[REGISTRY_KEY] ??= {
  active: undefined,
  pools: new Set(),
});

/** Tells `pool` that telemetry failed while reporting `event`. Never throws: it runs in a catch. */
export function reportTelemetryFailure(pool: ObservedPool | undefined, event: string, error: unknown): void {
  try {
    pool?.telemetryFailed?.(event, error);
  } catch {
    // A pool that cannot take the report (another copy's) loses only the report.
  }
}
