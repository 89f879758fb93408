import Database from 'better-sqlite3';
import { basename } from 'node:path';
import type { HealthCheckConfig } from './config.js';
import { ConnectionHealthManager, type PoolStatistics } from './connection-health-manager.js';
import { ConnectionSet } from './connection-set.js';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  PoolClosedError,
  errorMessage,
} from './errors.js';
import { Housekeeper } from './housekeeper.js';
import { ConnectionStatus, HealthyConnection, type HealthCheckResult } from './healthy-connection.js';
import { Lease } from './lease.js';
import { runStatement, type QueryOptions, type StatementContext } from './statement-runner.js';
import type { PooledConnection, ProbeTrigger } from './pooled-connection.js';
import { ConnectionFactory } from './connection-factory.js';
import { resolvePoolOptions, type DatabaseManagerOptions, type ResolvedPoolOptions } from './pool-options.js';
import type { BindParameters } from './statement-call.js';
import { WaitQueue, type Waiter } from './wait-queue.js';
import { WriteLock } from './write-lock.js';
import { now } from './clock.js';
import type { CloseReason } from './telemetry/metric-definitions.js';
import { CLOSE_REASONS } from './telemetry/metric-definitions.js';
import {
  telemetryRegistry,
  type ObservedPool,
  type PoolGaugeSnapshot,
  type TraceHandle,
} from './telemetry/pool-telemetry.js';

/** Options of one `getConnection()` call. */
export interface AcquireOptions {
  /** Overrides the pool's `acquireTimeoutMs` for this call. */
  timeoutMs?: number;
  /** Gives up waiting when aborted (the lease is never handed out). */
  signal?: AbortSignal;
}

/** The guide's `get_connection_stats()`: pool counts plus the pool statistics. */
export interface ConnectionStatsReport extends PoolStatistics {
  /** Open connections (idle, being probed and leased). */
  poolSize: number;
  maxPoolSize: number;
  /** Idle connections ready to lend. */
  availableConnections: number;
  /** Leased connections. */
  usedConnections: number;
  /** Callers waiting for a connection. */
  pendingRequests: number;
  initialized: boolean;
  /** Counters over the pool's whole life. */
  lifetime: LifetimeCounters;
}

export interface LifetimeCounters {
  created: number;
  closed: Record<CloseReason, number>;
  healthChecks: number;
  healthCheckFailures: number;
  timeouts: number;
  leaks: number;
  /** Statements executed on connections that have since closed. */
  closedConnectionUsage: number;
}

/** A lease that `close()` had to close because it was not released in time. */
export interface ForcedLease {
  connectionId: string;
  heldMs: number;
  /** Where it was acquired; recorded while leak detection is on. */
  acquireStack: string | undefined;
}

export interface CloseReport {
  forcedLeases: ForcedLease[];
}

type PoolState = 'new' | 'open' | 'closing' | 'closed';

/**
 * The health-checked pool (the guide's `DatabaseManager`): lends better-sqlite3 connections that
 * passed their probe, retires them by age, usage and idle time, replaces unhealthy ones and keeps
 * `minHealthyConnections` open.
 */
export class DatabaseManager implements ObservedPool, AsyncDisposable {
  readonly options: ResolvedPoolOptions;
  readonly healthCheckConfig: HealthCheckConfig;
  /** The monitor behind `healthCheckConfig.intervalMs`; started by `initialize()`. */
  readonly healthManager: ConnectionHealthManager;
  readonly namespace: string;
  #poolName: string;
  readonly #connections = new ConnectionSet();
  readonly #waiters = new WaitQueue<Lease>();
  readonly #housekeeper = new Housekeeper();
  readonly #writeLock = new WriteLock();
  readonly #releaseConnection = (pooled: PooledConnection): void => this.#release(pooled);
  readonly #lifetime: LifetimeCounters = {
    created: 0,
    closed: Object.fromEntries(CLOSE_REASONS.map((reason) => [reason, 0])) as Record<CloseReason, number>,
    healthChecks: 0,
    healthCheckFailures: 0,
    timeouts: 0,
    leaks: 0,
    closedConnectionUsage: 0,
  };
  #state: PoolState = 'new';
  readonly #statementContext: StatementContext;
  readonly #factory: ConnectionFactory;
  /** Worker mode: connections being opened (a worker takes tens of milliseconds to start). */
  readonly #openings = new Set<Promise<unknown>>();
  /** Worker processes still shutting down; `close()` waits for them. */
  readonly #closingConnections = new Set<Promise<void>>();
  #lastCreateError: unknown = undefined;
  #openFailuresInARow = 0;
  #drained: (() => void) | undefined;
  #pumping = false;
  #pumpAgain = false;
  #closing: Promise<CloseReport> | undefined;

  constructor(options: DatabaseManagerOptions) {
    this.options = resolvePoolOptions(options);
    this.healthCheckConfig = this.options.healthCheckConfig;
    this.healthManager = new ConnectionHealthManager(this.healthCheckConfig);
    this.namespace = this.options.filename;
    this.#poolName = this.options.poolName ?? (basename(this.options.filename) || this.options.filename);
    this.#statementContext = { pool: this, queryTimeoutMs: this.options.queryTimeoutMs };
    this.#factory = new ConnectionFactory(this, this.options, {
      onHealthCheck: (connection, result, trigger) => this.#onHealthCheck(connection, result, trigger),
      onWorkerExit: (pooled, reason) => this.#onWorkerExit(pooled, reason),
      onCreated: () => void this.#lifetime.created++,
    });
  }

  /** `'thread'` or `'worker'`: where the connections run. */
  get mode(): 'thread' | 'worker' {
    return this.options.mode;
  }

  /** `db.client.connection.pool.name`: the option, or the file's name (made unique among open pools). */
  get poolName(): string {
    return this.#poolName;
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
   * `ConnectionCreateError`. A second call does nothing.
   */
  async initialize(): Promise<void> {
    if (this.#state === 'open') return;
    if (this.closed) throw new PoolClosedError();
    const wanted = Math.max(1, this.healthCheckConfig.minHealthyConnections);
    const opened: PooledConnection[] = [];
    if (this.options.mode === 'worker') {
      const settled = await Promise.allSettled(Array.from({ length: wanted }, () => this.#factory.openWorker(undefined)));
      for (const outcome of settled) if (outcome.status === 'fulfilled') opened.push(outcome.value);
      const failure = settled.find((outcome) => outcome.status === 'rejected');
      if (failure !== undefined) {
        for (const pooled of opened) this.#retire(pooled, 'error');
        await Promise.allSettled([...this.#closingConnections]);
        throw failure.reason;
      }
    } else {
      try {
        for (let i = 0; i < wanted; i++) opened.push(this.#factory.openInThread(undefined));
      } catch (error) {
        for (const pooled of opened) this.#retire(pooled, 'error');
        throw error;
      }
    }
    for (const pooled of opened) this.#connections.add(pooled);
    this.#poolName = uniquePoolName(this.#poolName, this.options.poolName !== undefined);
    telemetryRegistry.pools.add(this);
    this.#state = 'open';
    telemetryRegistry.active?.poolOpened(this);
    this.options.logger.info(`Pool ${this.poolName} opened ${opened.length} connection(s) to ${this.namespace}`);
    if (this.healthCheckConfig.enabled) await this.healthManager.startMonitoring(this);
  }

  /**
   * Lends a healthy connection: an idle one whose probe passed within `cacheDurationMs` (probed
   * now otherwise), or a new one while the pool is below `poolSize`; else waits in line (FIFO)
   * until `acquireTimeoutMs`. Initializes the pool on first use.
   */
  getConnection(options: AcquireOptions = {}): Promise<Lease> {
    // Where the caller asked (leak reports), taken now: a waiter is served later from another stack.
    return this.#acquire(options, this.options.leakDetectionThresholdMs > 0 ? new Error('Acquired here').stack : undefined);
  }

  #acquire(options: AcquireOptions, acquireStack: string | undefined): Promise<Lease> {
    if (this.#state !== 'open') return this.#getConnectionSlow(options, acquireStack);
    const telemetry = telemetryRegistry.active;
    const pooled = this.#takeReadyNow(acquireStack);
    if (pooled !== undefined) {
      if (telemetry !== undefined) {
        const trace = telemetry.acquireStarted(this);
        telemetry.acquireEnded(this, trace, 0, pooled.connectionId, undefined);
      }
      return Promise.resolve(new Lease(pooled, this.#releaseConnection, this.#statementContext));
    }
    return this.#enqueue(options, acquireStack);
  }

  /**
   * Runs `fn` with a leased connection's `Database` (in-thread mode) and releases it on every
   * path. `withLease()` works in both modes.
   */
  async withConnection<T>(fn: (db: Database.Database, lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    const lease = await this.getConnection(options);
    try {
      return await fn(lease.connection, lease);
    } finally {
      lease.release();
    }
  }

  /** Runs `fn` with a lease and releases it on every path (both modes). */
  async withLease<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    const lease = await this.getConnection(options);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  /**
   * Runs `fn` inside `BEGIN IMMEDIATE` ... `COMMIT` on one connection, or `ROLLBACK` if it throws.
   * Write transactions queue (asynchronously) so that two never wait on each other's lock by
   * blocking the event loop; the wait in that queue counts against the acquire timeout.
   */
  async transaction<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    const timeoutMs = options?.timeoutMs ?? this.options.acquireTimeoutMs;
    const deadline = now() + timeoutMs;
    const unlock = await this.#lockForWriting(deadline, timeoutMs);
    try {
      const lease = await this.getConnection({ ...options, timeoutMs: Math.max(0, deadline - now()) });
      try {
        return await lease.transaction(fn);
      } finally {
        lease.release();
      }
    } finally {
      unlock();
    }
  }

  /** Acquires, runs one statement from the connection's statement cache, releases. */
  all<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): Promise<T[]> {
    return this.#oneStatement('all', sql, params, options) as Promise<T[]>;
  }

  get<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): Promise<T | undefined> {
    return this.#oneStatement('get', sql, params, options) as Promise<T | undefined>;
  }

  run(sql: string, params?: BindParameters, options?: QueryOptions): Promise<Database.RunResult> {
    return this.#oneStatement('run', sql, params, options) as Promise<Database.RunResult>;
  }

  /** Runs a script (one or more statements, no parameters) on one connection. */
  async exec(sql: string, options?: QueryOptions): Promise<void> {
    await this.#oneStatement('exec', sql, undefined, options);
  }

  /** The pool's connections (idle, being probed and leased), for debugging and monitoring. */
  *connections(): IterableIterator<HealthyConnection> {
    for (const pooled of [...this.#connections.values()]) yield pooled.healthy;
  }

  /** The `HealthyConnection` behind a leased `Database` (the guide's debugging snippet). */
  findConnection(db: Database.Database): HealthyConnection | undefined {
    return this.#connections.find(db)?.healthy;
  }

  /** The guide's `get_connection_stats()`. */
  async getConnectionStats(): Promise<ConnectionStatsReport> {
    return this.getConnectionStatsSync();
  }

  getConnectionStatsSync(): ConnectionStatsReport {
    return {
      poolSize: this.#connections.size,
      maxPoolSize: this.options.poolSize,
      availableConnections: this.#connections.idleCount,
      usedConnections: this.#connections.leasedCount,
      pendingRequests: this.#waiters.size,
      initialized: this.initialized,
      ...this.healthManager.getPoolStatistics(this),
      lifetime: structuredClone(this.#lifetime),
    };
  }

  /** Pool state for observable metrics, read at collection time. */
  readonly snapshot = (): PoolGaugeSnapshot => {
    const byStatus = { healthy: 0, unhealthy: 0, stale: 0, expired: 0 };
    let ageMax = 0;
    let ageSum = 0;
    let usageMax = 0;
    let usageSum = 0;
    const count = this.#connections.size;
    for (const { healthy } of this.#connections.values()) {
      byStatus[healthy.status]++;
      const age = healthy.ageMs / 1000;
      ageMax = Math.max(ageMax, age);
      ageSum += age;
      usageMax = Math.max(usageMax, healthy.metrics.usageCount);
      usageSum += healthy.metrics.usageCount;
    }
    return {
      idle: this.#connections.idleCount + this.#connections.reservedCount,
      used: this.#connections.leasedCount,
      pending: this.#waiters.size,
      max: this.options.poolSize,
      idleMax: this.options.poolSize,
      idleMin: this.healthCheckConfig.minHealthyConnections,
      byStatus,
      ageSeconds: { max: ageMax, average: count === 0 ? 0 : ageSum / count },
      usage: { max: usageMax, average: count === 0 ? 0 : usageSum / count },
    };
  };

  /** @internal Counters over the pool's whole life (read by `ConnectionHealthManager`). */
  get lifetimeCounters(): Readonly<LifetimeCounters> {
    return this.#lifetime;
  }

  /**
   * Stops taking requests (waiters are rejected with `PoolClosedError`), stops monitoring, closes
   * idle connections, waits up to `timeoutMs` for leases to come back, then closes the rest and
   * reports each one (with its acquire stack while leak detection is on).
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseReport> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.options.closeTimeoutMs);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- internal: used by ConnectionHealthManager -------------------------------------------

  /** @internal Schedules a monitoring task on the pool's only timer. */
  scheduleMaintenance(name: string, delayMs: number, run: () => void): void {
    this.#housekeeper.schedule(name, delayMs, run);
  }

  /** @internal */
  cancelMaintenance(name: string): void {
    this.#housekeeper.cancel(name);
  }

  /** @internal Closes idle connections that are expired, stale or unhealthy; returns how many. */
  retireIdle(): number {
    let retired = 0;
    for (const pooled of this.#connections.idleSnapshot()) {
      const status = pooled.healthy.status;
      if (status !== ConnectionStatus.HEALTHY) {
        this.#retire(pooled, closeReasonFor(pooled.healthy, status));
        retired++;
      }
    }
    return retired;
  }

  /** @internal Idle connections a monitoring cycle should probe, most recently used first. */
  idleConnections(): PooledConnection[] {
    return this.#connections.idleSnapshot();
  }

  /**
   * @internal Reserves an idle connection, probes it (forced), and puts it back or replaces it.
   * Returns the result, or undefined if the connection was no longer idle.
   */
  probeIdle(pooled: PooledConnection, parent: TraceHandle | undefined): HealthCheckResult | undefined | Promise<HealthCheckResult | undefined> {
    if (pooled.state !== 'idle' || this.#state !== 'open') return undefined;
    this.#connections.reserve(pooled);
    const result = pooled.probe('monitor', parent, true);
    if (result instanceof Promise) {
      return result.then((settled) => {
        this.#settleReservedProbe(pooled, settled, parent);
        return settled;
      });
    }
    this.#settleReservedProbe(pooled, result, parent);
    return result;
  }

  /** A reserved connection's probe finished: back to idle, or replaced; then serve waiters. */
  #settleReservedProbe(pooled: PooledConnection, result: HealthCheckResult, parent: TraceHandle | undefined): void {
    if (pooled.state !== 'reserved') return; // closed meanwhile (pool closing, worker exit)
    if (!result.passed) this.#afterFailedProbe(pooled, parent);
    else {
      // Lend it to the head of the line now: back on the idle stack, a cache shorter than the
      // probe's round trip (cacheDurationMs 0) would send it to another probe, and so on forever.
      const waiter = this.#state === 'open' && pooled.healthy.status === ConnectionStatus.HEALTHY ? this.#waiters.shift() : undefined;
      if (waiter === undefined) this.#connections.makeIdle(pooled);
      else {
        this.#lend(pooled, waiter.acquireStack);
        this.#deliver(waiter, pooled);
      }
    }
    if (this.#waiters.size > 0) this.#pump();
  }

  /** @internal Opens connections until `minHealthyConnections` are open; `parent` is the work that asked (a monitoring cycle). */
  refill(parent?: TraceHandle): void {
    if (this.#state !== 'open') return;
    const min = this.healthCheckConfig.minHealthyConnections;
    if (this.options.mode === 'worker') {
      while (this.#connections.size + this.#openings.size < Math.min(min, this.options.poolSize)) this.#startWorkerOpen(parent, 'refill');
      return;
    }
    while (this.#connections.size < Math.min(min, this.options.poolSize)) {
      const pooled = this.#tryOpen(parent);
      if (pooled === undefined) {
        this.#scheduleRetry('refill', () => this.refill());
        return;
      }
      this.#connections.add(pooled);
    }
    if (this.#waiters.size > 0) this.#pump();
  }

  // --- acquiring ----------------------------------------------------------------------------

  async #getConnectionSlow(options: AcquireOptions, acquireStack: string | undefined): Promise<Lease> {
    if (this.closed) throw new PoolClosedError();
    await this.initialize();
    return this.#acquire(options, acquireStack);
  }

  /** The fast path: an idle connection on top of the stack that needs no probe, with nobody waiting. */
  #takeReadyNow(acquireStack?: string): PooledConnection | undefined {
    if (this.#waiters.size > 0) return undefined;
    const top = this.#connections.peekIdle();
    if (top === undefined) return undefined;
    // One clock read for the whole decision: this runs for every statement of the shortcuts.
    const t = now();
    const healthy = top.healthy;
    if (healthy.needsProbe(t) || healthy.metrics.lastHealthCheckPassed === false || healthy.statusAt(t) !== ConnectionStatus.HEALTHY) {
      // Anything unusual (a probe, a cached failure, a retirement, a new connection) goes through the queue.
      return undefined;
    }
    this.#lend(top, acquireStack, t);
    return top;
  }

  #enqueue(options: AcquireOptions, acquireStack: string | undefined): Promise<Lease> {
    const timeoutMs = options.timeoutMs ?? this.options.acquireTimeoutMs;
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AcquireAbortedError(signal.reason));
    const enqueuedAt = now();
    const trace = telemetryRegistry.active?.acquireStarted(this);
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter<Lease> = { enqueuedAt, deadline: enqueuedAt + timeoutMs, timeoutMs, trace, resolve, reject, cleanup: undefined, acquireStack };
      if (signal !== undefined) {
        const onAbort = (): void => {
          if (this.#waiters.remove(waiter)) this.#fail(waiter, new AcquireAbortedError(signal.reason));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#waiters.push(waiter);
      this.#pump();
      if (this.#waiters.size > 0) this.#scheduleDeadline();
    });
  }

  /** The one function that moves the pool forward: serve waiters from idle connections, then new ones. */
  #pump(): void {
    // Not re-entrant: a probe failure inside #takeIdleFor refills the pool, and a nested pump would
    // lend connections the outer loop is still iterating over (double lending, stranded reservations).
    // A nested call asks the outer one to look again instead.
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (this.#waiters.size > 0 && this.#state === 'open') {
          const head = this.#waiters.peek();
          let pooled = this.#takeIdleFor(head?.trace);
          // Replacements were opened meanwhile: look at them (do/while) before opening more.
          if (pooled === undefined && this.#pumpAgain) break;
          pooled ??= this.#openFor(head?.trace);
          if (pooled === undefined) break;
          const waiter = this.#waiters.shift();
          if (waiter === undefined) break;
          this.#lend(pooled, waiter.acquireStack);
          this.#deliver(waiter, pooled);
        }
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  /** An idle connection fit to lend; retires unfit ones met on the way, probes when the cache is old. */
  #takeIdleFor(parent: TraceHandle | undefined): PooledConnection | undefined {
    for (const pooled of this.#connections.idleSnapshot()) {
      const status = pooled.healthy.status;
      if (status !== ConnectionStatus.HEALTHY) {
        this.#retire(pooled, closeReasonFor(pooled.healthy, status));
        continue;
      }
      if (pooled.healthy.hasFreshFailure()) continue;
      if (pooled.healthy.needsProbe()) {
        this.#connections.reserve(pooled);
        const result = pooled.probe('borrow', parent, false);
        if (result instanceof Promise) {
          // Worker mode: the probe runs in the connection's thread; it comes back idle (and
          // serves the head of the line) or is replaced. Meanwhile look at the next candidate.
          void result.then((settled) => this.#settleReservedProbe(pooled, settled, parent));
          continue;
        }
        if (!result.passed) {
          this.#afterFailedProbe(pooled, parent);
          continue;
        }
      }
      return pooled;
    }
    return undefined;
  }

  /** A new connection while the pool has room; records the failure (for the timeout error) if it cannot. */
  #openFor(parent: TraceHandle | undefined): PooledConnection | undefined {
    if (this.options.mode === 'worker') {
      // Start as many openings as callers wait for (within the pool size); each serves the line when ready.
      while (this.#openings.size < this.#waiters.size && this.#connections.size + this.#openings.size < this.options.poolSize) {
        this.#startWorkerOpen(parent, 'open-for-waiters');
      }
      return undefined;
    }
    if (this.#connections.size >= this.options.poolSize) return undefined;
    const pooled = this.#tryOpen(parent);
    if (pooled === undefined) {
      this.#scheduleRetry('open-for-waiters', () => this.#pump());
      return undefined;
    }
    this.#connections.add(pooled);
    return pooled;
  }

  #lend(pooled: PooledConnection, acquireStack?: string, t: number = now()): void {
    this.#connections.lease(pooled);
    pooled.leasedAt = t;
    pooled.healthy.touch(t);
    if (this.options.leakDetectionThresholdMs > 0) {
      pooled.acquireStack = acquireStack ?? new Error('Acquired here').stack;
      if (!this.#housekeeper.has('leaks')) {
        this.#housekeeper.schedule('leaks', this.options.leakDetectionThresholdMs, () => this.#checkLeaks());
      }
    }
  }

  #deliver(waiter: Waiter<Lease>, pooled: PooledConnection): void {
    waiter.cleanup?.();
    if (this.#waiters.size === 0) this.#housekeeper.cancel('acquire-deadline');
    telemetryRegistry.active?.acquireEnded(this, waiter.trace, now() - waiter.enqueuedAt, pooled.connectionId, undefined);
    waiter.resolve(new Lease(pooled, this.#releaseConnection, this.#statementContext));
  }

  #fail(waiter: Waiter<Lease>, error: unknown): void {
    waiter.cleanup?.();
    if (this.#waiters.size === 0) this.#housekeeper.cancel('acquire-deadline');
    telemetryRegistry.active?.acquireEnded(this, waiter.trace, now() - waiter.enqueuedAt, undefined, error);
    waiter.reject(error);
  }

  #scheduleDeadline(): void {
    const next = this.#waiters.nextDeadline();
    if (next === Infinity) return;
    // keepAlive: a caller awaiting a connection must not see the process exit under it.
    this.#housekeeper.schedule('acquire-deadline', next - now(), () => this.#expireWaiters(), { keepAlive: true });
  }

  #expireWaiters(): void {
    for (const waiter of this.#waiters.takeExpired(now())) {
      this.#fail(waiter, this.#timedOut(waiter.timeoutMs, this.#lastCreateError));
    }
    this.#scheduleDeadline();
  }

  /** Not `async`: the fast path costs one settled promise, the least an async API can. */
  #oneStatement(method: 'all' | 'get' | 'run' | 'exec', sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
    // A write while a transaction holds the write lock would sleep on the event loop; queue it.
    if (this.#writeLock.held && (method === 'run' || method === 'exec')) return this.#oneStatementAfterWriters(method, sql, params, options);
    const pooled = this.#state === 'open' ? this.#takeReadyNow() : undefined;
    if (pooled === undefined) return this.withLease((lease) => leaseStatement(lease, method, sql, params, options));
    // One span for the statement; the (zero) wait is still recorded in the wait-time histogram.
    telemetryRegistry.active?.acquireEnded(this, undefined, 0, pooled.connectionId, undefined);
    if (pooled.healthy.worker !== undefined) {
      return runStatement(this.#statementContext, pooled, method, sql, params, options).finally(() => this.#release(pooled));
    }
    try {
      // In-thread the statement has run by the time runStatement returns: release at once.
      return runStatement(this.#statementContext, pooled, method, sql, params, options);
    } finally {
      this.#release(pooled);
    }
  }

  async #oneStatementAfterWriters(method: 'all' | 'get' | 'run' | 'exec', sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
    const deadline = now() + this.options.acquireTimeoutMs;
    const unlock = await this.#lockForWriting(deadline, this.options.acquireTimeoutMs);
    try {
      return await this.withLease((lease) => leaseStatement(lease, method, sql, params, options), { timeoutMs: Math.max(0, deadline - now()) });
    } finally {
      unlock();
    }
  }

  /** The write lock, or `AcquireTimeoutError` (counted as a timeout) once `deadline` passes. */
  #lockForWriting(deadline: number, timeoutMs: number): Promise<() => void> {
    const lock = this.#writeLock.acquire(deadline, timeoutMs);
    this.#scheduleWriteLockDeadline();
    // Granted: the next deadline is another writer's, or none.
    return lock.then((unlock) => {
      this.#scheduleWriteLockDeadline();
      return unlock;
    });
  }

  #scheduleWriteLockDeadline(): void {
    const next = this.#writeLock.nextDeadline();
    // keepAlive, as for the acquire deadline: a writer awaiting the lock is a caller waiting; and
    // like it, cancelled once nobody waits, so it never holds the process open for nothing.
    if (next === Infinity) this.#housekeeper.cancel('write-lock-deadline');
    else this.#housekeeper.schedule('write-lock-deadline', next - now(), () => this.#expireWriters(), { keepAlive: true });
  }

  /** Counts and reports one timeout, and says in its error who holds the pool. */
  #timedOut(timeoutMs: number, lastCreateError: unknown, waitingFor?: string): AcquireTimeoutError {
    this.#lifetime.timeouts++;
    telemetryRegistry.active?.acquireTimedOut(this);
    const snapshot = {
      used: this.#connections.leasedCount,
      idle: this.#connections.idleCount + this.#connections.reservedCount,
      waiting: this.#waiters.size,
      max: this.options.poolSize,
    };
    const error = new AcquireTimeoutError(timeoutMs, snapshot, lastCreateError, waitingFor);
    this.options.logger.warn(error.message);
    return error;
  }

  #expireWriters(): void {
    for (const writer of this.#writeLock.takeExpired(now())) {
      writer.reject(this.#timedOut(writer.timeoutMs, undefined, 'the write lock (another write holds it)'));
    }
    this.#scheduleWriteLockDeadline();
  }

  // --- releasing ----------------------------------------------------------------------------

  #release(pooled: PooledConnection): void {
    const releasedAt = now();
    const telemetry = telemetryRegistry.active;
    if (telemetry !== undefined) telemetry.leaseReleased(this, releasedAt - pooled.leasedAt);
    const threshold = this.options.leakDetectionThresholdMs;
    if (pooled.leakReported) {
      this.options.logger.info(`Leaked connection ${pooled.connectionId} returned after ${Math.round(releasedAt - pooled.leasedAt)} ms`);
    } else if (threshold > 0 && releasedAt - pooled.leasedAt >= threshold) {
      // Held past the threshold, but the leak check's timer had not fired yet (a blocked event
      // loop delays it): count it now, so every lease held too long is counted exactly once.
      this.#reportLeak(pooled, releasedAt - pooled.leasedAt, ' (found on release)');
    }
    pooled.acquireStack = undefined;
    pooled.leakReported = false;
    if (pooled.state !== 'leased') return; // closed by close() while it was out
    if (pooled.healthy.worker?.inTransaction === true) {
      this.#rollBackInWorker(pooled);
      return;
    }
    this.#rollBackLeftovers(pooled);
    this.#returnToPool(pooled, releasedAt);
  }

  /** A released (or just rolled back) connection goes back to idle, or is replaced. */
  #returnToPool(pooled: PooledConnection, releasedAt: number): void {
    pooled.healthy.touch(releasedAt);
    if (this.#state !== 'open') {
      this.#retire(pooled, 'shutdown');
      if (this.#connections.leasedCount === 0) this.#drained?.();
      return;
    }
    const status = pooled.healthy.statusAt(releasedAt);
    if (status !== ConnectionStatus.HEALTHY) {
      this.#retire(pooled, closeReasonFor(pooled.healthy, status));
      this.refill();
    } else {
      this.#connections.makeIdle(pooled);
    }
    if (this.#waiters.size > 0) this.#pump();
  }

  /** Worker mode: the rollback is a round trip; the connection stays reserved until it is done. */
  #rollBackInWorker(pooled: PooledConnection): void {
    const worker = pooled.healthy.worker;
    if (worker === undefined) return;
    this.options.logger.warn(`Connection ${pooled.connectionId} was released inside an open transaction; rolling back`);
    this.#connections.reserve(pooled);
    if (this.#state !== 'open' && this.#connections.leasedCount === 0) this.#drained?.();
    worker
      .request({ op: 'exec', sql: 'ROLLBACK' }, this.healthCheckConfig.timeoutMs)
      .then(
        (response) => {
          if (!response.ok || worker.inTransaction) pooled.healthy.markUnhealthy();
        },
        () => pooled.healthy.markUnhealthy(),
      )
      .finally(() => {
        if (pooled.state !== 'reserved') return;
        if (this.#state !== 'open') {
          this.#retire(pooled, 'shutdown');
          return;
        }
        this.#returnToPool(pooled, now());
      });
  }

  /** A caller that left a transaction open must not hand it to the next caller. */
  #rollBackLeftovers(pooled: PooledConnection): void {
    if (pooled.healthy.worker !== undefined) return; // worker mode rolls back with a round trip (#rollBackInWorker)
    const db = pooled.db;
    if (!db.open || !db.inTransaction) return;
    this.options.logger.warn(`Connection ${pooled.connectionId} was released inside an open transaction; rolling back`);
    try {
      // better-sqlite3's own prepare: the rollback is the pool's housekeeping, not the caller's use.
      const rollback = (Object.getPrototypeOf(db) as Database.Database).prepare.call(db, 'ROLLBACK') as unknown as { run(): unknown };
      rollback.run();
    } catch (error) {
      this.options.logger.warn(`ROLLBACK failed on ${pooled.connectionId}: ${errorMessage(error)}`);
    }
    if (db.inTransaction) pooled.healthy.markUnhealthy();
  }

  // --- opening, probing, retiring ------------------------------------------------------------

  #tryOpen(parent: TraceHandle | undefined): PooledConnection | undefined {
    try {
      const pooled = this.#factory.openInThread(parent);
      this.#openFailuresInARow = 0;
      return pooled;
    } catch (error) {
      this.#lastCreateError = error;
      this.#openFailuresInARow++;
      this.options.logger.warn(errorMessage(error));
      return undefined;
    }
  }

  /** Worker mode: opens a connection in the background; it joins the pool and serves the line when ready. */
  #startWorkerOpen(parent: TraceHandle | undefined, retryName: string): void {
    const opening: Promise<void> = this.#factory.openWorker(parent).then(
      (pooled) => {
        this.#openings.delete(opening);
        this.#openFailuresInARow = 0;
        if (this.#state !== 'open') {
          this.#retire(pooled, 'shutdown');
          return;
        }
        this.#connections.add(pooled);
        this.#pump();
      },
      (error: unknown) => {
        this.#openings.delete(opening);
        this.#lastCreateError = error;
        this.#openFailuresInARow++;
        this.options.logger.warn(errorMessage(error));
        if (this.#state === 'open') this.#scheduleRetry(retryName, () => (retryName === 'refill' ? this.refill() : this.#pump()));
      },
    );
    this.#openings.add(opening);
  }

  /** Worker mode: a worker that crashed or exited takes its connection with it. */
  #onWorkerExit(pooled: PooledConnection, reason: string): void {
    pooled.healthy.markUnhealthy();
    this.options.logger.warn(`The worker of ${pooled.connectionId} stopped (${reason}); replacing it`);
    if (pooled.state === 'idle' && this.#state === 'open') {
      this.#retire(pooled, 'error');
      this.refill();
      if (this.#waiters.size > 0) this.#pump();
    }
  }

  #onHealthCheck(connection: HealthyConnection, result: HealthCheckResult, probeTrigger: ProbeTrigger | undefined): void {
    this.#lifetime.healthChecks++;
    if (result.error !== undefined) this.#lifetime.healthCheckFailures++;
    const { trigger, parent } = probeTrigger ?? { trigger: 'manual' as const, parent: undefined };
    const logger = this.options.logger;
    if (result.error === undefined) {
      logger.debug(`Health check passed on ${connection.connectionId} (${trigger}) in ${result.durationMs.toFixed(3)} ms`);
    } else {
      logger.warn(`Health check failed on ${connection.connectionId} (${trigger}): ${result.error.message}; status ${result.statusAfter}`);
    }
    telemetryRegistry.active?.healthChecked(this, parent, connection, result, trigger);
  }

  /** A failed probe: replace the connection once it is unhealthy, else keep it aside until its cached failure expires. */
  #afterFailedProbe(pooled: PooledConnection, parent: TraceHandle | undefined): void {
    if (pooled.healthy.status === ConnectionStatus.UNHEALTHY) {
      this.#retire(pooled, 'unhealthy');
      this.refill(parent);
      return;
    }
    this.#connections.makeIdle(pooled);
    // Borrowers skip it until the cached failure expires; look again then if anyone still waits.
    this.#housekeeper.schedule('reprobe', this.healthCheckConfig.cacheDurationMs, () => this.#pump());
  }

  #retire(pooled: PooledConnection, reason: CloseReason): void {
    const { healthy } = pooled;
    this.#connections.remove(pooled);
    try {
      const closing = healthy.close();
      if (closing !== undefined) {
        const tracked: Promise<void> = closing.catch(() => {}).finally(() => this.#closingConnections.delete(tracked));
        this.#closingConnections.add(tracked);
      }
    } catch (error) {
      this.options.logger.warn(`Closing ${healthy.connectionId} failed: ${errorMessage(error)}`);
    }
    this.#lifetime.closed[reason]++;
    this.#lifetime.closedConnectionUsage += healthy.metrics.usageCount;
    telemetryRegistry.active?.connectionClosed(this, healthy, reason);
    const message = `Closed ${healthy.connectionId} (${reason}) after ${(healthy.ageMs / 1000).toFixed(1)} s and ${healthy.metrics.usageCount} uses`;
    if (reason === 'unhealthy' || reason === 'error') this.options.logger.warn(message);
    else this.options.logger.debug(message);
  }

  /** Retries opening with exponential backoff (50 ms doubling to 5 s) while it keeps failing. */
  #scheduleRetry(name: string, run: () => void): void {
    if (this.#housekeeper.has(name)) return;
    const delay = Math.min(5000, 50 * 2 ** Math.min(this.#openFailuresInARow, 7));
    this.#housekeeper.schedule(name, delay, run);
  }

  #checkLeaks(): void {
    const threshold = this.options.leakDetectionThresholdMs;
    const t = now();
    let nextDue = Infinity;
    for (const pooled of this.#connections.leased()) {
      if (pooled.leakReported) continue;
      const heldMs = t - pooled.leasedAt;
      if (heldMs < threshold) {
        nextDue = Math.min(nextDue, pooled.leasedAt + threshold);
        continue;
      }
      this.#reportLeak(pooled, heldMs, '');
    }
    if (nextDue !== Infinity) this.#housekeeper.schedule('leaks', nextDue - t, () => this.#checkLeaks());
  }

  #reportLeak(pooled: PooledConnection, heldMs: number, when: string): void {
    pooled.leakReported = true;
    this.#lifetime.leaks++;
    telemetryRegistry.active?.leakDetected(this);
    this.options.logger.warn(
      `Possible leak${when}: ${pooled.connectionId} has been leased for ${Math.round(heldMs)} ms ` +
        `(leakDetectionThresholdMs ${this.options.leakDetectionThresholdMs}); acquired at:\n${pooled.acquireStack ?? '(no stack)'}`,
    );
  }

  // --- closing ------------------------------------------------------------------------------

  async #close(timeoutMs: number): Promise<CloseReport> {
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    await this.healthManager.stopMonitoring();
    for (const waiter of this.#waiters.drain()) this.#fail(waiter, new PoolClosedError('The pool was closed while waiting for a connection'));
    for (const writer of this.#writeLock.drain()) writer.reject(new PoolClosedError('The pool was closed while waiting for the write lock'));
    for (const pooled of [...this.#connections.values()]) {
      if (pooled.state !== 'leased') this.#retire(pooled, 'shutdown');
    }
    await Promise.allSettled([...this.#openings]); // connections still opening close as they arrive
    if (this.#connections.leasedCount > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        this.#housekeeper.schedule('close-deadline', timeoutMs, resolve, { keepAlive: true });
      });
    }
    const forcedLeases: ForcedLease[] = [];
    for (const pooled of this.#connections.leased()) {
      const forced = { connectionId: pooled.connectionId, heldMs: now() - pooled.leasedAt, acquireStack: pooled.acquireStack };
      forcedLeases.push(forced);
      this.options.logger.warn(
        `close(): ${forced.connectionId} was still leased after ${timeoutMs} ms (held ${Math.round(forced.heldMs)} ms); closing it. ` +
          (forced.acquireStack === undefined ? 'Set leakDetectionThresholdMs to record where it was acquired.' : `Acquired at:\n${forced.acquireStack}`),
      );
      this.#retire(pooled, 'shutdown');
    }
    this.#housekeeper.stop();
    await Promise.allSettled([...this.#closingConnections]); // worker processes end before close() resolves
    telemetryRegistry.pools.delete(this);
    this.#state = 'closed';
    if (wasOpen) this.options.logger.info(`Pool ${this.poolName} closed`);
    return { forcedLeases };
  }
}

function closeReasonFor(healthy: HealthyConnection, status: ConnectionStatus): CloseReason {
  switch (status) {
    case ConnectionStatus.UNHEALTHY:
      return healthy.unhealthyBecause === 'error' ? 'error' : 'unhealthy';
    case ConnectionStatus.EXPIRED:
      return healthy.ageMs > healthy.config.maxAgeMs ? 'max_age' : 'max_usage';
    case ConnectionStatus.STALE:
      return 'idle';
    default:
      return 'shutdown';
  }
}

/** One statement through a lease's async API (both modes). */
function leaseStatement(lease: Lease, method: 'all' | 'get' | 'run' | 'exec', sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
  return method === 'exec' ? lease.exec(sql, options) : lease[method](sql, params, options);
}

function uniquePoolName(name: string, explicit: boolean): string {
  const taken = new Set([...telemetryRegistry.pools].map((pool) => pool.poolName));
  if (!taken.has(name)) return name;
  if (explicit) return name; // the user chose it; do not rename behind their back
  for (let n = 2; ; n++) if (!taken.has(`${name}#${n}`)) return `${name}#${n}`;
}
