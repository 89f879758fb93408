import type { Database, RunResult, Statement } from 'better-sqlite3';
import type { BindParameters } from '../backend/statement-call.js';
import { StatementMode } from '../backend/statement-cache.js';
import { checkQueryOptions, type QueryOptions } from '../config/call-options.js';
import { LeaseReleasedError, SqlitePoolError } from '../errors.js';
import type { HealthyConnection } from '../health/healthy-connection.js';
import type { LeaseHolder, LeasedConnection } from './leased-connection.js';
import { Iteration, type OpenWork } from './iteration.js';
import { leaseDatabase } from './lease-database.js';
import { LeaseStatement } from './lease-statement.js';
import { runStatement, type AsyncMethod, type RunContext, type StatementOwner } from './statement-runner.js';
import { LeaseTransactions, type TransactionHost } from './lease-transactions.js';

/** What a lease needs from its pool. */
export interface LeaseHost extends TransactionHost {
  /** The lease gave its connection back (or had it taken at `close()`); `releasedAt` if the caller has read the clock. */
  returned(entry: LeasedConnection, owner: StatementOwner, releasedAt?: number): void;
}

/**
 * One caller's hold on a pooled connection. Release it exactly once (a second release does
 * nothing), or let `await using` do it. A lease ends at release: every method, statement and
 * iterator it handed out throws (rejects with) `LeaseReleasedError` afterwards, an unfinished
 * iterator is closed and a transaction left open is rolled back before the connection is lent
 * again, and statements still in flight (worker mode) finish or are stopped first.
 *
 * The query methods are asynchronous and work the same in the in-thread and the worker mode, so
 * switching modes is a configuration change. The synchronous better-sqlite3 API (`connection`,
 * `prepare()`, `pragma()`) exists in the in-thread mode only.
 *
 * ```ts
 * await using lease = await db.getConnection();
 * const user = await lease.get('SELECT * FROM users WHERE id = ?', [id]);
 * ```
 */
export class Lease implements LeaseHolder, Disposable, AsyncDisposable {
  readonly connectionId: string;
  #entry: LeasedConnection | undefined;
  readonly #host: LeaseHost;
  /** Iterations it opened and not yet finished (made on first use: most leases open none). */
  #open: Set<OpenWork> | undefined;
  #handle: Database | undefined;
  /** Its transactions (made by the first). */
  #transactions: LeaseTransactions<Lease> | undefined;

  /** @internal Leases come from `DatabaseManager.getConnection()`. */
  constructor(entry: LeasedConnection, host: LeaseHost) {
    this.#entry = entry;
    this.#host = host;
    this.connectionId = entry.id;
    entry.lease = this;
  }

  /** @internal */
  get context(): RunContext {
    return this.#host.context;
  }

  /**
   * The better-sqlite3 `Database` (the guide's `conn`), bound to this lease: synchronous, and
   * throwing `LeaseReleasedError` after release. In-thread mode only.
   */
  get connection(): Database {
    const entry = this.current();
    if (entry.backend.sync === undefined) throw noHandle(this.connectionId);
    return (this.#handle ??= leaseDatabase(this, entry.backend.sync.db));
  }

  /** The connection's health wrapper: stats, status, `validateHealth()`. */
  get healthyConnection(): HealthyConnection {
    return this.current().healthy;
  }

  get released(): boolean {
    return this.#entry === undefined;
  }

  /** Whether the connection is inside a transaction (either mode; worker mode: after its last statement). */
  get inTransaction(): boolean {
    return this.current().backend.inTransaction;
  }

  /**
   * A prepared statement on this connection (in-thread mode), with better-sqlite3's synchronous
   * `Statement` API. Its modes and bound parameters are its own; it throws after release.
   */
  prepare(sql: string): Statement {
    const entry = this.current();
    if (entry.backend.sync === undefined) throw noHandle(this.connectionId);
    return new LeaseStatement(this, sql);
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

  /** Runs a script of one or more statements without parameters. */
  async exec(sql: string, options?: QueryOptions): Promise<void> {
    await this.#run('exec', sql, undefined, options);
  }

  /** Rows as they come (in worker mode `options.batchSize` rows per round trip); ends with the lease. */
  iterate<T = unknown>(sql: string, params?: BindParameters, options?: QueryOptions): AsyncIterableIterator<T> {
    const entry = this.#entry;
    if (entry === undefined) return rejectingIterator(new LeaseReleasedError(this.connectionId));
    try {
      if (options !== undefined) checkQueryOptions(options);
    } catch (error) {
      return rejectingIterator(error);
    }
    const context = this.#host.context;
    const request = {
      sql,
      params,
      modes: options?.safeIntegers === true ? StatementMode.SAFE_INTEGERS : StatementMode.NONE,
      timeoutMs: options?.timeoutMs ?? context.queryTimeoutMs,
      batchSize: options?.batchSize ?? 100,
    };
    const iteration = new Iteration<T>(context, this, entry, context.catalog.get(sql), request, (work) => this.closed(work));
    this.opened(iteration);
    return iteration;
  }

  /** In-thread mode: better-sqlite3's `pragma()`, counted and traced like a statement. */
  pragma(source: string, options?: { simple?: boolean }): unknown {
    return this.connection.pragma(source, options);
  }

  /**
   * Runs `fn` between `BEGIN IMMEDIATE` and `COMMIT` on this connection, or `ROLLBACK` if it
   * throws; nested inside another transaction, as a savepoint. The transaction holds the pool's
   * write gate, and a shortcut (`db.run()`, `db.get()`) issued inside `fn` joins it. Scopes on one
   * lease take turns: see `LeaseTransactions`.
   */
  transaction<T>(fn: (lease: Lease) => T | Promise<T>, options?: QueryOptions): Promise<T> {
    return (this.#transactions ??= new LeaseTransactions(this, this.#host)).run(fn, options, undefined);
  }

  /**
   * @internal `db.transaction()` on a connection lent for it alone: BEGIN starts at the lend's
   * clock reading, and the lease ends with the transaction, at its last statement's.
   */
  transactionThenRelease<T>(fn: (lease: Lease) => T | Promise<T>, lentAt: number): Promise<T> {
    return (this.#transactions ??= new LeaseTransactions(this, this.#host)).run(fn, undefined, lentAt);
  }

  /** Gives the connection back to the pool. A second call does nothing. */
  release(): void {
    this.#end(undefined);
  }

  #end(releasedAt: number | undefined): void {
    const entry = this.#entry;
    if (entry === undefined) return;
    this.#entry = undefined;
    entry.lease = undefined;
    const open = this.#open;
    if (open !== undefined && open.size > 0) for (const work of [...open]) work.end();
    this.#host.returned(entry, this, releasedAt);
  }

  /** @internal `close()` took the connection back: the lease ends as at release. */
  end(): void {
    this.release();
  }

  /** @internal Its transaction ended: the lease ends at `releasedAt`, its last statement's end. */
  endAt(releasedAt: number | undefined): void {
    this.#end(releasedAt);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }

  /** @internal The connection, while this lease holds it. */
  current(): LeasedConnection {
    const entry = this.#entry;
    if (entry === undefined) throw new LeaseReleasedError(this.connectionId);
    return entry;
  }

  /** @internal */
  opened(work: OpenWork): void {
    (this.#open ??= new Set()).add(work);
  }

  /** @internal */
  closed(work: OpenWork): void {
    this.#open?.delete(work);
  }

  #run(method: AsyncMethod, sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
    const transactions = this.#transactions;
    // Only while a nested transaction is open or queued is there a turn to wait for (and a scope to look up).
    if (transactions !== undefined && transactions.pending > 0) {
      const queued = transactions.afterNested(() => this.#runNow(method, sql, params, options));
      if (queued !== undefined) return queued;
    }
    return this.#runNow(method, sql, params, options);
  }

  #runNow(method: AsyncMethod, sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
    let outcome: unknown;
    try {
      if (options !== undefined) checkQueryOptions(options);
      outcome = this.#statement(method, sql, options, params);
    } catch (error) {
      return Promise.reject(error);
    }
    return outcome instanceof Promise ? outcome : Promise.resolve(outcome);
  }

  /** One statement: its value at once where it ran at once, else a promise. */
  #statement(method: AsyncMethod, sql: string, options: QueryOptions | undefined, params?: BindParameters): unknown {
    const entry = this.#entry;
    if (entry === undefined) throw new LeaseReleasedError(this.connectionId);
    return runStatement(this.#host.context, this, entry, method, sql, params, options);
  }
}

function noHandle(connectionId: string): SqlitePoolError {
  return new SqlitePoolError('SQLITE_POOL_NO_HANDLE', `${connectionId} lives in a worker process: the raw better-sqlite3 handle exists in the in-thread mode only; use the lease's async methods`);
}

/** An iterator whose first `next()` rejects: `iterate()` on a released lease fails like the other async methods. */
function rejectingIterator<T>(error: unknown): AsyncIterableIterator<T> {
  const iterator: AsyncIterableIterator<T> = {
    next: () => Promise.reject(error),
    return: () => Promise.resolve({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
