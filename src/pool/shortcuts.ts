import type { BindParameters } from '../backend/statement-call.js';
import type { AcquireOptions, QueryOptions } from '../config/call-options.js';
import { Lease } from '../lease/lease.js';
import { checkAcquireOptions, checkQueryOptions } from '../config/call-options.js';
import { ShortcutOwner, runStatement, type AsyncMethod } from '../lease/statement-runner.js';
import { transactionOf } from '../lease/transaction-scope.js';
import type { PoolCore } from './pool-core.js';

/**
 * The pool's one-statement shortcuts (`all`, `get`, `run`, `exec`), `withLease()` and
 * `transaction()`, all written once on top of leases. A shortcut issued inside a `transaction()`
 * callback joins that transaction (its lease), so it neither waits for the write gate its own
 * transaction holds nor reads around the transaction's writes.
 */
export class Shortcuts {
  readonly #core: PoolCore;
  readonly #acquire: (options: AcquireOptions | undefined) => Promise<Lease>;

  constructor(core: PoolCore, acquire: (options: AcquireOptions | undefined) => Promise<Lease>) {
    this.#core = core;
    this.#acquire = acquire;
  }

  /**
   * Acquires, runs one statement, releases: at once when a connection is ready (the fast path,
   * with two clock readings: the lend, which starts the statement, and its end, which releases).
   */
  run(method: AsyncMethod, sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
    const core = this.#core;
    if (core.openTransactions > 0) {
      const joined = transactionOf<Lease>(core.scopeKey);
      if (joined !== undefined) return statement(joined, method, sql, params, options);
    }
    const entry = core.lendNow();
    if (entry === undefined) return this.withLease((slow) => statement(slow, method, sql, params, options), undefined);
    const owner = new ShortcutOwner(entry.id);
    entry.lease = owner;
    let outcome: unknown;
    try {
      if (options !== undefined) checkQueryOptions(options);
      outcome = runStatement(core.context, owner, entry, method, sql, params, options, entry.leasedAt);
    } catch (error) {
      core.returned(entry, owner);
      return Promise.reject(error);
    }
    // In-thread the statement has run by now: release at once, without a promise turn.
    if (!(outcome instanceof Promise)) {
      core.returned(entry, owner, entry.healthy.metrics.lastUsedAt);
      return Promise.resolve(outcome);
    }
    return outcome.finally(() => core.returned(entry, owner));
  }

  async withLease<T>(fn: (lease: Lease) => T | Promise<T>, options: AcquireOptions | undefined): Promise<T> {
    const lease = await this.#acquire(options);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  transaction<T>(fn: (lease: Lease) => T | Promise<T>, options: AcquireOptions | undefined): Promise<T> {
    const core = this.#core;
    const joined = core.openTransactions > 0 ? transactionOf<Lease>(core.scopeKey) : undefined;
    if (joined !== undefined) {
      // Joining waits for no connection, so the options have no use; a typo in them is still refused.
      if (options !== undefined) {
        try {
          checkAcquireOptions(options);
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return joined.transaction(fn);
    }
    const entry = options === undefined ? core.lendNow() : undefined;
    if (entry === undefined) return this.withLease((lease) => lease.transaction(fn), options);
    return new Lease(entry, core).transactionThenRelease(fn, entry.leasedAt);
  }
}

function statement(lease: Lease, method: AsyncMethod, sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
  return method === 'exec' ? lease.exec(sql, options) : lease[method](sql, params, options);
}
