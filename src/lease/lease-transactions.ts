import type { MaybePromise } from '../backend/backend.js';
import { checkQueryOptions, type QueryOptions } from '../config/call-options.js';
import type { LeasedConnection } from './leased-connection.js';
import { SerialQueue, type PendingCounter } from './serial-queue.js';
import { runStatement, type RunContext, type StatementOwner } from './statement-runner.js';
import { TransactionFrame, frameOf, type ScopeLease } from './transaction-scope.js';

/** What a lease's transactions need from its pool. */
export interface TransactionHost {
  readonly context: RunContext;
  /** The pool's identity for transaction scopes. */
  readonly scopeKey: object;
  /** Transactions open through the API right now (shortcuts look for one to join only while there are some). */
  openTransactions: number;
}

/** What they need from the lease. */
export interface TransactionLease extends StatementOwner, ScopeLease {
  readonly inTransaction: boolean;
  /** The connection; throws `LeaseReleasedError` after release. */
  current(): LeasedConnection;
  /** Ends the lease (as `release()`), at `releasedAt` if the caller has read the clock. */
  endAt(releasedAt: number | undefined): void;
}

type Callback<L, T> = (lease: L) => T | Promise<T>;

/**
 * The transactions of one lease: `BEGIN IMMEDIATE` ... `COMMIT` (or `ROLLBACK`), and inside one a
 * savepoint per nested transaction, each with a name used once. SQLite's savepoints are a stack on
 * the connection, so the scopes on one lease take turns rather than interleave: the nested
 * transactions opened in one callback run one after another, a statement that callback issues
 * while one of them is open waits for it, and transactions opened on the lease outside its
 * callbacks wait for each other.
 */
export class LeaseTransactions<L extends TransactionLease> implements PendingCounter {
  /** Nested transactions of this lease's frames started or queued and not yet settled. */
  pending = 0;
  readonly #lease: L;
  readonly #host: TransactionHost;
  /** The transactions opened on the lease outside any callback of it (made on first use). */
  #outside: SerialQueue | undefined;
  /** Savepoints opened on this lease so far: the next name. */
  #savepoints = 0;

  constructor(lease: L, host: TransactionHost) {
    this.#lease = lease;
    this.#host = host;
  }

  /**
   * `fn` in a transaction: a savepoint when the caller runs inside a callback of this lease, else
   * `BEGIN IMMEDIATE` (a savepoint if the connection is already in a transaction it began
   * itself). `lentAt`: a connection lent for this transaction alone, released when it ends.
   */
  run<T>(fn: Callback<L, T>, options: QueryOptions | undefined, lentAt: number | undefined): Promise<T> {
    // A connection lent for this transaction alone has nothing to wait for.
    if (lentAt !== undefined) return this.#begin(fn, undefined, lentAt);
    try {
      // Checked here, as every statement's options are: BEGIN (or SAVEPOINT), COMMIT and ROLLBACK run with them.
      if (options !== undefined) checkQueryOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const queue = frameOf(this.#lease)?.children ?? (this.#outside ??= new SerialQueue());
    return queue.exclusive(() => (this.#lease.current().backend.inTransaction ? this.#savepoint(fn, options) : this.#begin(fn, options, undefined)));
  }

  /**
   * A statement issued in a callback of this lease while a nested transaction of that callback is
   * open or queued: it runs after that one, or it would land in its savepoint and go with it.
   * `undefined` where it can run now.
   */
  afterNested<T>(statement: () => Promise<T>): Promise<T> | undefined {
    const frame = frameOf(this.#lease);
    return frame !== undefined && frame.busy ? frame.children.exclusive(statement) : undefined;
  }

  #begin<T>(fn: Callback<L, T>, options: QueryOptions | undefined, lentAt: number | undefined): Promise<T> {
    const lease = this.#lease;
    let begun: unknown;
    try {
      begun = runStatement(this.#host.context, lease, lease.current(), 'run', 'BEGIN IMMEDIATE', undefined, options, lentAt);
    } catch (error) {
      if (lentAt !== undefined) lease.endAt(undefined);
      return Promise.reject(error);
    }
    // In-thread BEGIN has run by now (unless it waited for the lock): no promise turn for it.
    if (!(begun instanceof Promise)) return this.#body(fn, options, lentAt);
    return begun.then(
      () => this.#body(fn, options, lentAt),
      (error: unknown) => {
        // BEGIN gave up (the lock stayed taken past busyTimeoutMs): a connection lent for this transaction goes back.
        if (lentAt !== undefined) lease.endAt(undefined);
        throw error;
      },
    );
  }

  async #body<T>(fn: Callback<L, T>, options: QueryOptions | undefined, lentAt: number | undefined): Promise<T> {
    const lease = this.#lease;
    const host = this.#host;
    host.openTransactions++;
    try {
      const result = await new TransactionFrame(host.scopeKey, lease, this).enter(() => fn(lease));
      const committed = this.#statement('COMMIT', options);
      if (committed instanceof Promise) await committed;
      return result;
    } catch (error) {
      // If this ROLLBACK fails, the caller's error still wins: the release rolls back again, or
      // replaces a connection that cannot.
      if (!lease.released && lease.inTransaction) await this.#quietly('ROLLBACK', options);
      throw error;
    } finally {
      host.openTransactions--;
      if (lentAt !== undefined && !lease.released) lease.endAt(lease.current().healthy.metrics.lastUsedAt);
    }
  }

  async #savepoint<T>(fn: Callback<L, T>, options: QueryOptions | undefined): Promise<T> {
    const lease = this.#lease;
    const host = this.#host;
    const name = `otel_sqlite_pool_${++this.#savepoints}`;
    await this.#statement(`SAVEPOINT ${name}`, options);
    host.openTransactions++;
    try {
      const result = await new TransactionFrame(host.scopeKey, lease, this).enter(() => fn(lease));
      await this.#statement(`RELEASE ${name}`, options);
      return result;
    } catch (error) {
      if (!lease.released && lease.inTransaction) {
        await this.#quietly(`ROLLBACK TO ${name}`, options);
        await this.#quietly(`RELEASE ${name}`, options);
      }
      throw error;
    } finally {
      host.openTransactions--;
    }
  }

  /** The transaction's own statements: never queued (they open and close the scopes others queue behind). */
  #statement(sql: string, options: QueryOptions | undefined): MaybePromise<unknown> {
    const lease = this.#lease;
    return runStatement(this.#host.context, lease, lease.current(), 'run', sql, undefined, options);
  }

  async #quietly(sql: string, options: QueryOptions | undefined): Promise<void> {
    try {
      await this.#statement(sql, options);
    } catch {
      // The caller's error is the one that counts.
    }
  }
}
