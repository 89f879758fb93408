import type { Database } from 'better-sqlite3';
import { HealthCheckConfig, type HealthCheckOptions } from './config.js';
import { HealthCheckError, SqlitePoolError, isConnectionFatal } from './errors.js';
import { deserialize, type WorkerConnection } from './worker/worker-connection.js';
import { HealthProbe, fileIdentityOf } from './health-probe.js';
import { now } from './clock.js';

/** The guide's four connection states. */
export const ConnectionStatus = {
  /** Working properly. */
  HEALTHY: 'healthy',
  /** Failed its health checks, or hit a connection-level error. */
  UNHEALTHY: 'unhealthy',
  /** Idle longer than `maxIdleTimeMs`. */
  STALE: 'stale',
  /** Older than `maxAgeMs`, or used more than `maxUsage` times. */
  EXPIRED: 'expired',
} as const;
export type ConnectionStatus = (typeof ConnectionStatus)[keyof typeof ConnectionStatus];

/** Usage and health counters of one connection. Times are `performance.now()` milliseconds. */
export interface ConnectionMetrics {
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** Statements executed on the connection (probes excluded). */
  readonly usageCount: number;
  /** Time those statements took, in milliseconds. */
  readonly totalQueryTimeMs: number;
  readonly healthCheckCount: number;
  readonly healthCheckFailures: number;
  readonly consecutiveFailures: number;
  readonly lastHealthCheckAt: number | undefined;
  readonly lastHealthCheckPassed: boolean | undefined;
  readonly lastHealthCheckError: HealthCheckError | undefined;
}

/** What one call to `checkHealth()` found. */
export interface HealthCheckResult {
  readonly passed: boolean;
  /** True when the cached result was reused and no probe ran. */
  readonly cached: boolean;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly error: HealthCheckError | undefined;
  readonly statusBefore: ConnectionStatus;
  readonly statusAfter: ConnectionStatus;
}

/** The guide's `get_stats()`, in camelCase; times in seconds as the guide has them. */
export interface ConnectionStats {
  connectionId: string;
  status: ConnectionStatus;
  ageSeconds: number;
  idleSeconds: number;
  usageCount: number;
  healthCheckCount: number;
  healthCheckFailures: number;
  healthCheckSuccessRate: number;
  /** Average time per statement, in seconds. */
  averageQueryTime: number;
  isHealthy: boolean;
  isExpired: boolean;
  isStale: boolean;
}

export interface HealthyConnectionOptions {
  /** The better-sqlite3 connection to watch (in-thread mode). */
  connection?: Database;
  /** The worker-process connection to watch (worker mode); give this or `connection`. */
  worker?: WorkerConnection;
  /** Limits and probe settings; shared with the pool, so run-time changes apply. */
  config?: HealthCheckConfig | HealthCheckOptions;
  /** A name for logs, stats and spans. @default "conn_<n>" */
  connectionId?: string;
  /**
   * The busy timeout restored after a probe, in milliseconds.
   * @default 5000 (better-sqlite3's own default)
   */
  busyTimeoutMs?: number;
  /** Called after every probe that ran (not for cached results): for logs and telemetry. */
  onHealthCheck?: (connection: HealthyConnection, result: HealthCheckResult) => void;
}

let nextId = 1;

/**
 * One better-sqlite3 connection with health checking: usage metrics, a status derived from the
 * limits, and a probe whose result is cached for `cacheDurationMs`.
 */
export class HealthyConnection {
  readonly connectionId: string;
  readonly config: HealthCheckConfig;
  readonly #connection: Database | undefined;
  /** The connection's worker process, in worker mode. */
  readonly worker: WorkerConnection | undefined;
  readonly #probe: HealthProbe | undefined;
  readonly #onHealthCheck: HealthyConnectionOptions['onHealthCheck'];
  readonly #metrics: { -readonly [K in keyof ConnectionMetrics]: ConnectionMetrics[K] };
  /** Set by a fatal probe, too many failed probes, or a connection-level error. */
  #unhealthy = false;
  #unhealthyBecause: 'probe' | 'error' | undefined;

  constructor(options: HealthyConnectionOptions) {
    if ((options.connection === undefined) === (options.worker === undefined)) {
      throw new TypeError('HealthyConnection needs a connection (better-sqlite3 Database) or a worker, not both');
    }
    this.#connection = options.connection;
    this.worker = options.worker;
    this.connectionId = options.connectionId ?? `conn_${nextId++}`;
    this.config = HealthCheckConfig.from(options.config);
    this.#onHealthCheck = options.onHealthCheck;
    this.#probe = options.connection === undefined ? undefined : new HealthProbe(options.connection, fileIdentityOf(options.connection.name), options.busyTimeoutMs ?? 5000);
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
   * The better-sqlite3 `Database` (the guide's `healthy_conn.connection`). In worker mode the
   * connection lives in another thread and there is no handle to give: use the lease's async API.
   */
  get connection(): Database {
    if (this.#connection === undefined) {
      throw new SqlitePoolError('SQLITE_POOL_NO_HANDLE', `${this.connectionId} lives in a worker process: the raw better-sqlite3 handle exists in the in-thread mode only; use the lease's async methods`);
    }
    return this.#connection;
  }

  /** Whether the underlying connection is open (in either mode). */
  get open(): boolean {
    return this.#connection !== undefined ? this.#connection.open : this.worker?.open === true;
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
    if (this.#unhealthy || !this.open) return ConnectionStatus.UNHEALTHY;
    const m = this.#metrics;
    const config = this.config;
    if (nowMs - m.createdAt > config.maxAgeMs || m.usageCount > config.maxUsage) return ConnectionStatus.EXPIRED;
    if (nowMs - m.lastUsedAt > config.maxIdleTimeMs) return ConnectionStatus.STALE;
    return ConnectionStatus.HEALTHY;
  }

  get isHealthy(): boolean {
    return this.status === ConnectionStatus.HEALTHY;
  }

  /** Older than `maxAgeMs`, or used more than `maxUsage` times. */
  get isExpired(): boolean {
    return this.ageMs > this.config.maxAgeMs || this.#metrics.usageCount > this.config.maxUsage;
  }

  /** Idle for longer than `maxIdleTimeMs`. */
  get isStale(): boolean {
    return this.idleMs > this.config.maxIdleTimeMs;
  }

  /** Whether a borrower must probe first: no probe yet, or the last result is older than the cache. */
  needsProbe(nowMs: number = now()): boolean {
    if (!this.config.enabled) return false;
    const at = this.#metrics.lastHealthCheckAt;
    return at === undefined || nowMs - at >= this.config.cacheDurationMs;
  }

  /** Whether the last probe failed and its result is still cached (so borrowers skip it). */
  hasFreshFailure(): boolean {
    return this.#metrics.lastHealthCheckPassed === false && !this.needsProbe();
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
   * The probe behind {@link validateHealth}, with what it found: synchronous in the in-thread
   * mode (the pool relies on that), a promise in worker mode, where a probe slower than
   * `timeoutMs` terminates the worker.
   */
  probe(options: { force?: boolean } = {}): HealthCheckResult | Promise<HealthCheckResult> {
    return this.worker === undefined ? this.checkHealth(options) : this.#probeWorker(this.worker, options.force ?? false);
  }

  /** The synchronous probe of the in-thread mode, with what it found. */
  checkHealth({ force = false }: { force?: boolean } = {}): HealthCheckResult {
    const statusBefore = this.status;
    const startedAt = now();
    const skipped = this.#skipProbe(force, startedAt, statusBefore);
    if (skipped !== undefined) return skipped;
    if (this.#probe === undefined) throw new SqlitePoolError('SQLITE_POOL_NO_HANDLE', `${this.connectionId} lives in a worker process: use probe() or validateHealth()`);
    let error: HealthCheckError | undefined;
    try {
      this.#probe.run(this.config);
    } catch (caught) {
      error = caught instanceof HealthCheckError ? caught : new HealthCheckError('SQLITE_POOL_PROBE_FAILED', String(caught), false, { cause: caught });
    }
    return this.#recordProbe(startedAt, error, statusBefore);
  }

  async #probeWorker(worker: WorkerConnection, force: boolean): Promise<HealthCheckResult> {
    const statusBefore = this.status;
    const startedAt = now();
    const skipped = this.#skipProbe(force, startedAt, statusBefore);
    if (skipped !== undefined) return skipped;
    const timeoutMs = this.config.timeoutMs;
    let error: HealthCheckError | undefined;
    try {
      const response = await worker.request({ op: 'probe', query: this.config.query, timeoutMs }, timeoutMs, () =>
        new HealthCheckError('SQLITE_POOL_PROBE_TIMEOUT', `The probe ran longer than timeoutMs (${timeoutMs} ms); its worker was terminated`, true),
      );
      if (!response.ok) {
        const rebuilt = deserialize(response.error);
        error = rebuilt instanceof HealthCheckError ? rebuilt : new HealthCheckError(response.error.code ?? 'SQLITE_POOL_PROBE_FAILED', rebuilt.message, isConnectionFatal(rebuilt), { cause: rebuilt });
      }
    } catch (caught) {
      error = caught instanceof HealthCheckError ? caught : new HealthCheckError('SQLITE_POOL_WORKER_EXITED', caught instanceof Error ? caught.message : String(caught), true, { cause: caught });
    }
    return this.#recordProbe(startedAt, error, statusBefore);
  }

  /** The result without probing: checks disabled, or a cached result still fresh. */
  #skipProbe(force: boolean, startedAt: number, statusBefore: ConnectionStatus): HealthCheckResult | undefined {
    const metrics = this.#metrics;
    if (!this.config.enabled) {
      return { passed: true, cached: true, startedAt, durationMs: 0, error: undefined, statusBefore, statusAfter: statusBefore };
    }
    if (!force && !this.needsProbe(startedAt)) {
      const passed = metrics.lastHealthCheckPassed === true && !this.#unhealthy && this.open;
      return { passed, cached: true, startedAt, durationMs: 0, error: metrics.lastHealthCheckError, statusBefore, statusAfter: statusBefore };
    }
    return undefined;
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
      // A passing probe ends the run of failures (but a fatal verdict is never undone).
      metrics.consecutiveFailures = 0;
    } else {
      metrics.healthCheckFailures++;
      metrics.consecutiveFailures++;
      if (error.fatal || metrics.consecutiveFailures > this.config.maxConsecutiveFailures) {
        this.#unhealthy = true;
        this.#unhealthyBecause ??= 'probe';
      }
    }
    const result: HealthCheckResult = {
      passed: error === undefined && !this.#unhealthy,
      cached: false,
      startedAt,
      durationMs,
      error,
      statusBefore,
      statusAfter: this.status,
    };
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

  /** Marks the connection unhealthy after a connection-level error (it will be replaced). */
  markUnhealthy(): void {
    this.#unhealthy = true;
    this.#unhealthyBecause ??= 'error';
  }

  /** Why the connection is unhealthy: failed probes, or an error while it executed a statement. */
  get unhealthyBecause(): 'probe' | 'error' | undefined {
    return this.#unhealthyBecause;
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

  /**
   * Closes the connection. Safe to call more than once. In worker mode the thread's end is
   * awaited by the returned promise (the pool waits for it in `close()`).
   */
  close(): Promise<void> | undefined {
    if (this.#connection !== undefined) {
      if (this.#connection.open) this.#connection.close();
      return undefined;
    }
    return this.worker?.close();
  }
}
