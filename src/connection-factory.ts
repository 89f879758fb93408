import Database from 'better-sqlite3';
import { ConnectionCreateError } from './errors.js';
import { HealthyConnection, type HealthCheckResult } from './healthy-connection.js';
import { instrumentDatabase } from './instrumented-database.js';
import { PooledConnection, type ProbeTrigger } from './pooled-connection.js';
import type { ResolvedPoolOptions } from './pool-options.js';
import { now } from './clock.js';
import { telemetryRegistry, type ObservedPool, type TraceHandle } from './telemetry/pool-telemetry.js';
import { WorkerConnection } from './worker/worker-connection.js';

/** What the pool hears from the connections a factory makes. */
export interface ConnectionFactoryHooks {
  /** Every probe that ran on one of its connections, with why it ran. */
  onHealthCheck(connection: HealthyConnection, result: HealthCheckResult, trigger: ProbeTrigger | undefined): void;
  /** A worker process stopped on its own (crashed, killed) after its connection joined the pool. */
  onWorkerExit(pooled: PooledConnection, reason: string): void;
  /** A connection was opened and passed its first probe. */
  onCreated(): void;
}

/**
 * Opens the pool's connections, in either mode: configures them (pragmas, `onConnect`),
 * instruments the in-thread ones, probes each before it joins the pool, and reports the creation
 * (or its failure, as `ConnectionCreateError`) to telemetry.
 */
export class ConnectionFactory {
  readonly #pool: ObservedPool;
  readonly #options: ResolvedPoolOptions;
  readonly #hooks: ConnectionFactoryHooks;
  #connectionNumber = 0;

  constructor(pool: ObservedPool, options: ResolvedPoolOptions, hooks: ConnectionFactoryHooks) {
    this.#pool = pool;
    this.#options = options;
    this.#hooks = hooks;
  }

  /** In-thread mode: opens, configures and probes a connection; throws `ConnectionCreateError`. */
  openInThread(parent: TraceHandle | undefined): PooledConnection {
    const options = this.#options;
    const startedAt = now();
    const connectionId = this.#nextId();
    let db: Database.Database | undefined;
    try {
      db = new Database(options.filename, { readonly: options.readonly, fileMustExist: options.fileMustExist, timeout: options.busyTimeoutMs });
      for (const [name, value] of Object.entries(options.pragmas)) db.pragma(`${name} = ${String(value)}`);
      options.onConnect?.(db);
      const pooled = this.#wrap({ connection: db }, connectionId);
      instrumentDatabase(db, pooled.healthy, this.#pool);
      if (options.healthCheckConfig.enabled) {
        const result = pooled.probe('connect', parent, true) as HealthCheckResult;
        if (!result.passed) throw result.error ?? new Error('The new connection failed its first probe');
      }
      this.#opened(parent, startedAt, connectionId);
      return pooled;
    } catch (error) {
      if (db?.open) db.close();
      throw this.#openFailed(parent, startedAt, error);
    }
  }

  /** Worker mode: starts a worker process, opens its connection and probes it. */
  async openWorker(parent: TraceHandle | undefined): Promise<PooledConnection> {
    const options = this.#options;
    const startedAt = now();
    const connectionId = this.#nextId();
    let worker: WorkerConnection | undefined;
    try {
      worker = await WorkerConnection.open(
        { filename: options.filename, readonly: options.readonly, fileMustExist: options.fileMustExist, busyTimeoutMs: options.busyTimeoutMs, pragmas: options.pragmas, statementCacheSize: options.statementCacheSize },
        connectionId,
      );
      const pooled = this.#wrap({ worker }, connectionId);
      if (options.healthCheckConfig.enabled) {
        const result = await pooled.probe('connect', parent, true);
        if (!result.passed) throw result.error ?? new Error('The new connection failed its first probe');
      }
      // Only now: a worker that dies during its first probe (killed on a probe timeout) is a failed
      // opening, not a pool connection to retire (which counted a close with no creation).
      if (!worker.open) throw new Error('The worker stopped during its first probe');
      worker.onExit = (reason) => this.#hooks.onWorkerExit(pooled, reason);
      this.#opened(parent, startedAt, connectionId);
      return pooled;
    } catch (error) {
      await worker?.close();
      throw this.#openFailed(parent, startedAt, error);
    }
  }

  #nextId(): string {
    return `conn_${++this.#connectionNumber}`;
  }

  #wrap(backend: { connection: Database.Database } | { worker: WorkerConnection }, connectionId: string): PooledConnection {
    let pooled: PooledConnection | undefined;
    const healthy = new HealthyConnection({
      ...backend,
      config: this.#options.healthCheckConfig,
      connectionId,
      busyTimeoutMs: this.#options.busyTimeoutMs,
      onHealthCheck: (connection, result) => this.#hooks.onHealthCheck(connection, result, pooled?.probeTrigger),
    });
    pooled = new PooledConnection(healthy, this.#options.statementCacheSize);
    return pooled;
  }

  #opened(parent: TraceHandle | undefined, startedAt: number, connectionId: string): void {
    this.#hooks.onCreated();
    telemetryRegistry.active?.connectionCreated(this.#pool, parent, startedAt, now() - startedAt, connectionId, undefined);
    this.#options.logger.debug(`Opened ${connectionId} in ${(now() - startedAt).toFixed(2)} ms`);
  }

  #openFailed(parent: TraceHandle | undefined, startedAt: number, error: unknown): ConnectionCreateError {
    telemetryRegistry.active?.connectionCreated(this.#pool, parent, startedAt, now() - startedAt, undefined, error);
    return error instanceof ConnectionCreateError ? error : new ConnectionCreateError(this.#options.filename, error);
  }
}
