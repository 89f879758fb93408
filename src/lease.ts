import type { Database, RunResult, Statement } from 'better-sqlite3';
import { LeaseReleasedError } from './errors.js';
import type { HealthyConnection } from './healthy-connection.js';
import type { PooledConnection } from './pooled-connection.js';
import type { BindParameters } from './statement-call.js';
import { iterateStatement, runStatement, type QueryOptions, type StatementContext } from './statement-runner.js';

/**
 * One caller's hold on a pooled connection. Release it exactly once (a second release does
 * nothing), or let `await using` do it; after release every accessor throws, so a caller can
 * never touch a connection that another caller now holds.
 *
 * The query methods are asynchronous and work the same in the in-thread and the worker mode, so
 * switching modes is a configuration change. The raw better-sqlite3 handle (`connection`,
 * `prepare()`) exists in the in-thread mode only.
 *
 * ```ts
 * await using lease = await db.getConnection();
 * const user = await lease.get('SELECT * FROM users WHERE id = ?', [id]);
 * ```
 */
export class Lease implements Disposable, AsyncDisposable {
  #pooled: PooledConnection | undefined;
  readonly #release: (pooled: PooledConnection) => void;
  readonly #context: StatementContext;
  readonly #connectionId: string;

  /** @internal Leases come from `DatabaseManager.getConnection()`. */
  constructor(pooled: PooledConnection, release: (pooled: PooledConnection) => void, context: StatementContext) {
    this.#pooled = pooled;
    this.#release = release;
    this.#context = context;
    this.#connectionId = pooled.connectionId;
  }

  /** The better-sqlite3 `Database` (the guide's `conn`); in-thread mode only. */
  get connection(): Database {
    return this.#current().db;
  }

  /** The connection's health wrapper: stats, status, `validateHealth()`. */
  get healthyConnection(): HealthyConnection {
    return this.#current().healthy;
  }

  get connectionId(): string {
    return this.#connectionId;
  }

  get released(): boolean {
    return this.#pooled === undefined;
  }

  /** Whether the connection is inside a transaction (either mode). */
  get inTransaction(): boolean {
    return this.#current().inTransaction;
  }

  /** A prepared statement from this connection's cache (in-thread mode only). */
  prepare(sql: string): Statement {
    return this.#current().statement(sql);
  }

  run(sql: string, params?: BindParameters, options?: QueryOptions): Promise<RunResult> {
    return this.#run('run', sql, params, options) as Promise<RunResult>;
  }

  get<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): Promise<T | undefined> {
    return this.#run('get', sql, params, options) as Promise<T | undefined>;
  }

  all<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): Promise<T[]> {
    return this.#run('all', sql, params, options) as Promise<T[]>;
  }

  /** Rows as they come: in worker mode `options.batchSize` rows per round trip. */
  iterate<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): AsyncIterableIterator<T> {
    return iterateStatement<T>(this.#context, this.#current(), sql, params, options);
  }

  /** Runs a script of one or more statements without parameters. */
  async exec(sql: string, options?: QueryOptions): Promise<void> {
    await this.#run('exec', sql, undefined, options);
  }

  /** In-thread mode: better-sqlite3's `pragma()`. */
  pragma(source: string, options?: { simple?: boolean }): unknown {
    return this.#current().db.pragma(source, options);
  }

  /**
   * Runs `fn` between `BEGIN IMMEDIATE` and `COMMIT` on this connection, or `ROLLBACK` if it
   * throws. (`DatabaseManager.transaction()` also queues writers; this does not.)
   */
  async transaction<T>(fn: (lease: Lease) => T | Promise<T>, options?: QueryOptions): Promise<T> {
    await this.run('BEGIN IMMEDIATE', undefined, options);
    let result: T;
    try {
      result = await fn(this);
      await this.run('COMMIT', undefined, options);
    } catch (error) {
      const pooled = this.#pooled;
      if (pooled !== undefined && pooled.healthy.open && pooled.inTransaction) {
        // If this ROLLBACK fails, the caller's error still wins: the release rolls back again,
        // or replaces a connection that cannot.
        await this.run('ROLLBACK', undefined, options).catch(() => undefined);
      }
      throw error;
    }
    return result;
  }

  /** Gives the connection back to the pool. A second call does nothing. */
  release(): void {
    const pooled = this.#pooled;
    if (pooled === undefined) return;
    this.#pooled = undefined;
    this.#release(pooled);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }

  #run(method: 'run' | 'get' | 'all' | 'exec', sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
    const pooled = this.#pooled;
    if (pooled === undefined) return Promise.reject(new LeaseReleasedError(this.#connectionId));
    return runStatement(this.#context, pooled, method, sql, params, options);
  }

  #current(): PooledConnection {
    const pooled = this.#pooled;
    if (pooled === undefined) throw new LeaseReleasedError(this.#connectionId);
    return pooled;
  }
}
