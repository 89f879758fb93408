import type { Database } from 'better-sqlite3';
import type { ConnectionBackend } from '../backend/backend.js';
import { ThreadBackend } from '../backend/thread-backend.js';
import { now } from '../clock.js';
import { HealthCheckConfig, type HealthCheckOptions } from '../config/health-check-config.js';
import { HealthCheckError, SqlitePoolError } from '../errors.js';
import type { ConnectionMetrics, ConnectionStats, HealthCheckResult } from './health-types.js';
import { ConnectionStatus, closeReasonFor, isExpiredAt, isNearlyExpiredAt, nearLimitAt, statusAt, type Broken, type CloseReason } from './status.js';

export { ConnectionStatus } from './status.js';

export type { ConnectionMetrics, ConnectionStats, HealthCheckResult } from './health-types.js';

export interface HealthyConnectionOptions {
  /** The better-sqlite3 connection to watch (the guide's `connection`). */
  connection?: Database;
  /** Limits and probe settings; shared with the pool, so run-time changes apply. @default new HealthCheckConfig() */
  config?: HealthCheckConfig | HealthCheckOptions;
  /** A name for logs, stats and spans. @default "conn_<n>" */
  connectionId?: string;
  /** Called after every probe that ran (not for cached results): for logs and telemetry. @default none */
  onHealthCheck?: (connection: HealthyConnection, result: HealthCheckResult) => void;
  /** @internal The pool's connection, wherever it runs (instead of `connection`). */
  backend?: ConnectionBackend;
}

let nextId = 1;

/**
 * One connection with health checking (the guide's `HealthyConnection`): usage metrics, a status
 * derived from the limits, and a probe whose result is cached for `cacheDurationMs`.
 */
export class HealthyConnection {
  readonly connectionId: string;
  readonly config: HealthCheckConfig;
  /** @internal */
  readonly backend: ConnectionBackend;
  readonly #onHealthCheck: HealthyConnectionOptions['onHealthCheck'];
  readonly #metrics: { -readonly [K in keyof ConnectionMetrics]: ConnectionMetrics[K] };
  #broken: Broken;
  #probing: Promise<HealthCheckResult> | undefined;

  constructor(options: HealthyConnectionOptions) {
    if ((options.connection === undefined) === (options.backend === undefined)) {
      throw new TypeError('HealthyConnection needs a connection (a better-sqlite3 Database)');
    }
    this.connectionId = options.connectionId ?? `conn_${nextId++}`;
    this.backend = options.backend ?? ThreadBackend.wrap(options.connection as Database, this.connectionId);
    this.config = HealthCheckConfig.from(options.config);
    this.#onHealthCheck = options.onHealthCheck;
    const createdAt = now();
    this.#metrics = {
      createdAt,
      lastUsedAt: createdAt,
      usageCount: 0,
      totalQueryTimeMs: 0,
      healthCheckCount: 0,
      healthCheckFailures: 0,
      consecutiveFailures: 0,
      lastHealthCheckAt: undefined,
      lastHealthCheckPassed: undefined,
      lastHealthCheckError: undefined,
    };
  }

  /**
   * The better-sqlite3 `Database` (the guide's `healthy_conn.connection`): the raw handle, not
   * bound to any lease. In worker mode the connection lives in another process and there is no
   * handle to give: use a lease's async API.
   */
  get connection(): Database {
    const sync = this.backend.sync;
    if (sync === undefined) {
      throw new SqlitePoolError('SQLITE_POOL_NO_HANDLE', `${this.connectionId} lives in a worker process: the raw better-sqlite3 handle exists in the in-thread mode only; use the lease's async methods`);
    }
    return sync.db;
  }

  /** Worker mode: the id of the process the connection lives in (for diagnostics); undefined in-thread. */
  get processId(): number | undefined {
    return this.backend.pid;
  }

  /** Whether the underlying connection is open. */
  get open(): boolean {
    return this.backend.open;
  }

  /** Usage and health counters (read-only view). */
  get metrics(): ConnectionMetrics {
    return this.#metrics;
  }

  get ageMs(): number {
    return now() - this.#metrics.createdAt;
  }

  get idleMs(): number {
    return now() - this.#metrics.lastUsedAt;
  }

  /** Unhealthy first (it is the most serious), then expired, then stale (the guide's order). */
  get status(): ConnectionStatus {
    return this.statusAt(now());
  }

  /** The status at a given `performance.now()` time: the pool reads the clock once per decision. */
  statusAt(nowMs: number): ConnectionStatus {
    return statusAt(this.#broken, this.backend.open, this.#metrics, this.config, nowMs);
  }

  get isHealthy(): boolean {
    return this.status === ConnectionStatus.HEALTHY;
  }

  /** Older than `maxAgeMs`, or used more than `maxUsage` times. */
  get isExpired(): boolean {
    return isExpiredAt(this.#metrics, this.config, now());
  }

  /** @internal Past most of its age or usage limit: the pool opens its successor ahead of need. */
  nearlyExpiredAt(nowMs: number): boolean {
    return isNearlyExpiredAt(this.#metrics, this.config, nowMs);
  }

  /** Which limit a nearly expired connection is close to (the close reason if it is retired early). */
  nearLimitAt(nowMs: number): 'max_age' | 'max_usage' {
    return nearLimitAt(this.#metrics, this.config, nowMs);
  }

  /** Idle for longer than `maxIdleTimeMs`. */
  get isStale(): boolean {
    return this.idleMs > this.config.maxIdleTimeMs;
  }

  /**
   * Why the connection is unhealthy: `'failures'` (more failed probes in a row than
   * `maxConsecutiveFailures`), `'error'` (it broke: a fatal probe finding or a connection-level
   * error), or undefined while it is not.
   */
  get unhealthyBecause(): Broken {
    return this.#broken;
  }

  /** @internal Why the pool closes it, were it closed in this status now. */
  closeReason(status: ConnectionStatus, nowMs: number = now()): CloseReason {
    return closeReasonFor(this.#broken, this.#metrics, this.config, status, nowMs);
  }

  /** Whether a borrower must probe first: no probe yet, or the last result is older than the cache. */
  needsProbe(nowMs: number = now()): boolean {
    if (!this.config.enabled) return false;
    const at = this.#metrics.lastHealthCheckAt;
    return at === undefined || nowMs - at >= this.config.cacheDurationMs;
  }

  /** Whether the last probe failed and its result is still cached (so borrowers skip it). */
  hasFreshFailure(nowMs: number = now()): boolean {
    return this.#metrics.lastHealthCheckPassed === false && !this.needsProbe(nowMs);
  }

  /**
   * Validates the connection's health (the guide's `validate_health`). Returns the cached result
   * when it is younger than `cacheDurationMs`, unless `force` is set. Always true when health
   * checks are disabled.
   */
  async validateHealth(options: { force?: boolean } = {}): Promise<boolean> {
    return (await this.probe(options)).passed;
  }

  /**
   * The probe behind {@link validateHealth}, with what it found. A probe slower than `timeoutMs`
   * fails (in worker mode its process is killed). A probe asked for while one runs shares it.
   * `deep` also reads the database file's header (after an error that may concern the file).
   */
  probe(options: { force?: boolean; deep?: boolean } = {}): Promise<HealthCheckResult> {
    const statusBefore = this.status;
    const startedAt = now();
    const config = this.config;
    if (!config.enabled || (options.force !== true && options.deep !== true && !this.needsProbe(startedAt))) {
      const m = this.#metrics;
      const passed = !config.enabled || (m.lastHealthCheckPassed === true && this.#broken === undefined && this.open);
      return Promise.resolve({ passed, cached: true, startedAt, durationMs: 0, error: config.enabled ? m.lastHealthCheckError : undefined, statusBefore, statusAfter: statusBefore });
    }
    this.#probing ??= this.#runProbe(startedAt, statusBefore, options.deep === true).finally(() => (this.#probing = undefined));
    return this.#probing;
  }

  async #runProbe(startedAt: number, statusBefore: ConnectionStatus, deep: boolean): Promise<HealthCheckResult> {
    let error: HealthCheckError | undefined;
    try {
      await this.backend.probe({ query: this.config.query, timeoutMs: this.config.timeoutMs, deep });
    } catch (caught) {
      error = caught instanceof HealthCheckError ? caught : new HealthCheckError('SQLITE_POOL_PROBE_FAILED', String(caught), false, { cause: caught });
    }
    return this.#recordProbe(startedAt, error, statusBefore);
  }

  #recordProbe(startedAt: number, probeError: HealthCheckError | undefined, statusBefore: ConnectionStatus): HealthCheckResult {
    const metrics = this.#metrics;
    let error = probeError;
    const durationMs = now() - startedAt;
    if (error === undefined && durationMs > this.config.timeoutMs) {
      error = new HealthCheckError('SQLITE_POOL_PROBE_TIMEOUT', `The probe took ${durationMs.toFixed(1)} ms, more than timeoutMs (${this.config.timeoutMs} ms)`, false);
    }
    metrics.healthCheckCount++;
    metrics.lastHealthCheckAt = startedAt + durationMs;
    metrics.lastHealthCheckPassed = error === undefined;
    metrics.lastHealthCheckError = error;
    if (error === undefined) {
      // A passing probe ends the run of failures (but a broken connection stays broken).
      metrics.consecutiveFailures = 0;
    } else {
      metrics.healthCheckFailures++;
      metrics.consecutiveFailures++;
      if (error.fatal) this.markUnhealthy('error');
      else if (metrics.consecutiveFailures > this.config.maxConsecutiveFailures) this.markUnhealthy('failures');
    }
    const result: HealthCheckResult = { passed: error === undefined && this.#broken === undefined, cached: false, startedAt, durationMs, error, statusBefore, statusAfter: this.status };
    this.#onHealthCheck?.(this, result);
    return result;
  }

  /**
   * Records one use (the guide's `record_usage`): a statement executed, and how long it took in
   * milliseconds. The pool calls this for every statement run on the connection.
   */
  recordUsage(queryTimeMs?: number, atMs: number = now()): void {
    const metrics = this.#metrics;
    metrics.usageCount++;
    if (queryTimeMs !== undefined) metrics.totalQueryTimeMs += queryTimeMs;
    metrics.lastUsedAt = atMs;
  }

  /** Marks the connection as in use now, so its idle time starts when it is released. */
  touch(nowMs: number = now()): void {
    this.#metrics.lastUsedAt = nowMs;
  }

  /**
   * Marks the connection for replacement: `'error'` when it broke (the default), `'failures'`
   * when it failed too many probes. The first cause is kept.
   */
  markUnhealthy(because: 'error' | 'failures' = 'error'): void {
    this.#broken ??= because;
  }

  /** The guide's `get_stats()`. */
  getStats(): ConnectionStats {
    const m = this.#metrics;
    const status = this.status;
    return {
      connectionId: this.connectionId,
      status,
      ageSeconds: this.ageMs / 1000,
      idleSeconds: this.idleMs / 1000,
      usageCount: m.usageCount,
      healthCheckCount: m.healthCheckCount,
      healthCheckFailures: m.healthCheckFailures,
      healthCheckSuccessRate: m.healthCheckCount === 0 ? 1 : (m.healthCheckCount - m.healthCheckFailures) / m.healthCheckCount,
      averageQueryTime: m.usageCount === 0 ? 0 : m.totalQueryTimeMs / m.usageCount / 1000,
      isHealthy: status === ConnectionStatus.HEALTHY,
      isExpired: this.isExpired,
      isStale: this.isStale,
    };
  }

  /** Closes the connection (safe to call more than once) and waits until it is gone. */
  close(): Promise<void> {
    return this.backend.close();
  }
}
