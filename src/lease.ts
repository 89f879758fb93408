import type { Database, RunResult, Statement } from 'better-sqlite3';
import { LeaseReleasedError } from './errors.js';
import type { HealthyConnection } from './healthy-connection.js';
import type { PooledConnection } from './pooled-connection.js';
import { callStatement, type BindParameters } from './statement-call.js';

/**
 * One caller's hold on a pooled connection. Release it exactly once (a second release does
 * nothing), or let `await using` do it; after release every accessor throws, so a caller can
 * never touch a connection that another caller now holds.
 *
 * ```ts
 * await using lease = await db.getConnection();
 * const user = lease.get('SELECT * FROM users WHERE id = ?', [id]);
 * ```
 */
export class Lease implements Disposable, AsyncDisposable {
  #pooled: PooledConnection | undefined;
  readonly #release: (pooled: PooledConnection) => void;
  readonly #connectionId: string;

  /** @internal Leases come from `DatabaseManager.getConnection()`. */
  constructor(pooled: PooledConnection, release: (pooled: PooledConnection) => void) {
    this.#pooled = pooled;
    this.#release = release;
    this.#connectionId = pooled.connectionId;
  }

  /** The better-sqlite3 `Database` (the guide's `conn`). */
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

  /** A prepared statement from this connection's cache. */
  prepare(sql: string): Statement {
    return this.#current().statement(sql);
  }

  run(sql: string, params?: BindParameters): RunResult {
    return callStatement(this.#current().statement(sql), 'run', params) as RunResult;
  }

  get<T = unknown>(sql: string, params?: BindParameters): T | undefined {
    return callStatement(this.#current().statement(sql), 'get', params) as T | undefined;
  }

  all<T = unknown>(sql: string, params?: BindParameters): T[] {
    return callStatement(this.#current().statement(sql), 'all', params) as T[];
  }

  iterate<T = unknown>(sql: string, params?: BindParameters): IterableIterator<T> {
    return callStatement(this.#current().statement(sql), 'iterate', params) as IterableIterator<T>;
  }

  /** Runs a script of one or more statements without parameters. */
  exec(sql: string): void {
    this.#current().db.exec(sql);
  }

  pragma(source: string, options?: { simple?: boolean }): unknown {
    return this.#current().db.pragma(source, options);
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

  #current(): PooledConnection {
    const pooled = this.#pooled;
    if (pooled === undefined) throw new LeaseReleasedError(this.#connectionId);
    return pooled;
  }
}
