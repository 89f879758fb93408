import type Database from 'better-sqlite3';
import { fileNamespace } from '../telemetry/namespace.js';
import { checkAcquireOptions, checkCloseOptions, type AcquireOptions, type CloseOptions, type QueryOptions } from '../config/call-options.js';
import type { HealthCheckConfig } from '../config/health-check-config.js';
import type { Mode } from '../config/modes.js';
import { resolvePoolOptions, type DatabaseManagerOptions, type ResolvedPoolOptions } from '../config/pool-options.js';
import type { BindParameters } from '../backend/statement-call.js';
import { PoolClosedError } from '../errors.js';
import { ConnectionHealthManager, type MonitoredPool } from '../health/connection-health-manager.js';
import type { HealthyConnection } from '../health/healthy-connection.js';
import type { Lease } from '../lease/lease.js';
import { rawDatabase } from '../lease/lease-database.js';
import { telemetryRegistry, type ObservedPool, type PoolGaugeSnapshot } from '../telemetry/pool-telemetry.js';
import { Maintenance } from './maintenance.js';
import { PoolCore } from './pool-core.js';
import { Shortcuts } from './shortcuts.js';
import { shutDown, type CloseReport } from './shutdown.js';
import type { ConnectionStatsReport } from './statistics.js';

export type { CloseReport, ForcedLease } from './shutdown.js';

/** `new` until `initialize()` (or the first use) starts it; `closing` from `close()`; then `closed`. */
export type PoolState = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * The health-checked pool (the guide's `DatabaseManager`): lends better-sqlite3 connections that
 * passed their probe, retires them by age, usage and idle time, replaces unhealthy ones and keeps
 * `minHealthyConnections` open. Its life is a small state machine: `initialize()`, concurrent
 * first use and `close()` at any moment are defined, never more than `poolSize` connections are
 * open in any mode, and `close()` always wins.
 */
export class DatabaseManager implements ObservedPool, MonitoredPool, AsyncDisposable {
  readonly options: ResolvedPoolOptions;
  readonly healthCheckConfig: HealthCheckConfig;
  /** The monitor behind `healthCheckConfig.intervalMs`; started by `initialize()`. */
  readonly healthManager: ConnectionHealthManager;
  /** The pool's own monitoring, as `ConnectionHealthManager` drives it. */
  readonly monitoring: Maintenance;
  readonly namespace: string;
  readonly #core: PoolCore;
  readonly #shortcuts: Shortcuts;
  #poolName: string;
  #state: PoolState = 'new';
  #opening: Promise<void> | undefined;
  #closing: Promise<CloseReport> | undefined;

  constructor(options: DatabaseManagerOptions) {
    this.options = resolvePoolOptions(options);
    this.healthCheckConfig = this.options.healthCheckConfig;
    this.healthManager = new ConnectionHealthManager(this.healthCheckConfig);
    this.namespace = this.options.filename;
    // The file's name (a `file:` URI without its query, which may hold a VFS's secrets), as db.namespace reports it.
    this.#poolName = this.options.poolName ?? fileNamespace(this.options.filename);
    this.#core = new PoolCore(this.options, this);
    this.monitoring = new Maintenance(this.#core);
    this.#shortcuts = new Shortcuts(this.#core, (options) => this.getConnection(options));
  }

  /** `'thread'` or `'worker'`: where the connections run. */
  get mode(): Mode {
    return this.options.mode;
  }

  /** `db.client.connection.pool.name`: the option, or the file's name (made unique among open pools). */
  get poolName(): string {
    return this.#poolName;
  }

  get state(): PoolState {
    return this.#state;
  }

  get initialized(): boolean {
    return this.#state === 'open';
  }

  get closed(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  /**
   * Opens `minHealthyConnections` connections (at least one, so a bad path fails here) and starts
   * monitoring. Fails fast: if a connection cannot be opened, closes what it opened and throws
   * (`ConnectionCreateError`, or `ConfigurationError` for a setting SQLite refused); the pool is
   * then `new` again. Concurrent calls share one opening; a call after `close()` rejects with
   * `PoolClosedError`, and `close()` during it makes it reject so.
   */
  initialize(): Promise<void> {
    switch (this.#state) {
      case 'open':
        return Promise.resolve();
      case 'opening':
        return this.#opening as Promise<void>;
      case 'closing':
      case 'closed':
        return Promise.reject(new PoolClosedError());
    }
    this.#state = 'opening';
    this.#opening = this.#open().catch((error: unknown) => {
      if (this.#state === 'opening') this.#state = 'new';
      throw error;
    });
    return this.#opening;
  }

  /**
   * Lends a healthy connection: an idle one whose probe passed within `cacheDurationMs` (probed
   * now otherwise), or a new one while the pool is below `poolSize`; else waits in line (FIFO)
   * until `timeoutMs` (`acquireTimeoutMs` by default). Initializes the pool on first use.
   */
  getConnection(options?: AcquireOptions): Promise<Lease> {
    try {
      if (options !== undefined) checkAcquireOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const stack = this.#core.leaks.acquireStack();
    const timeoutMs = options?.timeoutMs ?? this.options.acquireTimeoutMs;
    if (this.#state === 'open') return this.#core.acquire(timeoutMs, options?.signal, stack);
    if (this.closed) return Promise.reject(new PoolClosedError());
    // First use: the caller waits in line while the pool opens, its timeout and signal armed; a
    // failed opening reaches it as the error initialize() throws.
    const lease = this.#core.wait(timeoutMs, options?.signal, stack);
    this.initialize().catch(() => undefined);
    return lease;
  }

  /** Runs `fn` with a lease and releases it on every path (both modes). */
  withLease<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    return this.#shortcuts.withLease(fn, options);
  }

  /** Runs `fn` with the leased connection's lease-bound `Database` (in-thread mode) and releases it on every path. */
  withConnection<T>(fn: (db: Database.Database, lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    return this.#shortcuts.withLease((lease) => fn(lease.connection, lease), options);
  }

  /**
   * Runs `fn` inside `BEGIN IMMEDIATE` ... `COMMIT` on one connection, or `ROLLBACK` if it throws.
   * The transaction holds the pool's write gate; other writers wait asynchronously, and a shortcut
   * issued inside `fn` joins the transaction. Nested inside another, it is a savepoint.
   */
  transaction<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    return this.#shortcuts.transaction(fn, options);
  }

  /** Acquires, runs one statement from the connection's statement cache, releases. */
  all<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): Promise<T[]> {
    return this.#shortcuts.run('all', sql, params, options) as Promise<T[]>;
  }

  get<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): Promise<T | undefined> {
    return this.#shortcuts.run('get', sql, params, options) as Promise<T | undefined>;
  }

  run(sql: string, params?: BindParameters, options?: QueryOptions): Promise<Database.RunResult> {
    return this.#shortcuts.run('run', sql, params, options) as Promise<Database.RunResult>;
  }

  /** Runs a script (one or more statements, no parameters) on one connection. */
  async exec(sql: string, options?: QueryOptions): Promise<void> {
    await this.#shortcuts.run('exec', sql, undefined, options);
  }

  /** The pool's connections (idle, being probed and leased), for debugging and monitoring. */
  *connections(): IterableIterator<HealthyConnection> {
    for (const entry of [...this.#core.set.values()]) yield entry.healthy;
  }

  /** The `HealthyConnection` behind a leased `Database` (the guide's debugging snippet). */
  findConnection(db: Database.Database): HealthyConnection | undefined {
    const raw = rawDatabase(db);
    for (const entry of this.#core.set.values()) if (entry.backend.sync?.db === raw) return entry.healthy;
    return undefined;
  }

  /** The guide's `get_connection_stats()`. */
  async getConnectionStats(): Promise<ConnectionStatsReport> {
    return this.getConnectionStatsSync();
  }

  getConnectionStatsSync(): ConnectionStatsReport {
    return this.#core.statistics.report(this.initialized);
  }

  /** Pool state for observable metrics, read at collection time. */
  readonly snapshot = (): PoolGaugeSnapshot => this.#core.statistics.gauges();

  /** For telemetry (`ObservedPool`): a report it could not make; logged once per kind, counted. */
  readonly telemetryFailed = (event: string, error: unknown): void => this.#core.telemetryFailures.report(event, error);

  /**
   * Stops taking requests (waiters are rejected with `PoolClosedError`), stops monitoring, closes
   * idle connections, waits up to `timeoutMs` for leases to come back, then stops the rest (worker
   * mode: kills their processes, stopping running statements) and reports each one. After it
   * resolves no connection, timer or child process remains. Every call returns the same promise,
   * but one with invalid options, which rejects with `ConfigurationError` and closes nothing.
   */
  close(options?: CloseOptions): Promise<CloseReport> {
    let timeoutMs: number;
    try {
      timeoutMs = (options === undefined ? undefined : checkCloseOptions(options).timeoutMs) ?? this.options.closeTimeoutMs;
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #open(): Promise<void> {
    const core = this.#core;
    const wanted = Math.max(1, Math.min(this.healthCheckConfig.minHealthyConnections, this.options.poolSize));
    const opened = await Promise.allSettled(Array.from({ length: wanted }, () => core.opener.open(undefined)));
    for (const outcome of opened) if (outcome.status === 'fulfilled') core.set.arrive(outcome.value);
    const failure = opened.find((outcome) => outcome.status === 'rejected');
    if (this.#state !== 'opening' || failure !== undefined) {
      for (const entry of [...core.set.values()]) core.retirement.retire(entry, 'shutdown');
      await core.retirement.settled();
      const error: unknown = this.#state !== 'opening' ? new PoolClosedError('The pool was closed while it was opening') : failure?.reason;
      // The first callers waiting for this opening learn why it failed.
      for (const waiter of core.waiters.drain()) waiter.fail(error);
      throw error;
    }
    this.#poolName = uniquePoolName(this.#poolName, this.options.poolName !== undefined);
    telemetryRegistry.pools.add(this);
    this.#state = 'open';
    core.lending = true;
    telemetryRegistry.active?.poolOpened(this);
    this.options.logger.info(`Pool ${this.poolName} opened ${core.set.size} connection(s) to ${this.namespace}`);
    // The callers that waited for the opening are served first, then monitoring starts.
    core.pump.run();
    if (this.healthCheckConfig.enabled) await this.healthManager.startMonitoring(this);
  }

  async #close(timeoutMs: number): Promise<CloseReport> {
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    // An open under way may never finish (an onConnect that hangs): close() abandons it rather than wait.
    this.#core.opener.abandon(new PoolClosedError('The pool was closed while this connection was opening'));
    await this.#opening?.catch(() => undefined);
    const report = await shutDown(this.#core, this.monitoring, timeoutMs);
    telemetryRegistry.pools.delete(this);
    this.#state = 'closed';
    if (wasOpen) this.options.logger.info(`Pool ${this.poolName} closed`);
    return report;
  }
}

/** A name no other open pool has: the file's name, then `#2`, `#3`... (a name the user chose is kept). */
function uniquePoolName(name: string, explicit: boolean): string {
  const taken = new Set([...telemetryRegistry.pools].map((pool) => pool.poolName));
  if (explicit || !taken.has(name)) return name;
  for (let n = 2; ; n++) if (!taken.has(`${name}#${n}`)) return `${name}#${n}`;
}
