import { AsyncLocalStorage } from 'node:async_hooks';
import { SerialQueue, type PendingCounter } from './serial-queue.js';

/**
 * The transactions a piece of code runs inside, if it runs inside `transaction()` callbacks: a
 * shortcut (`db.run()`, `db.get()`) issued there joins its own pool's transaction on its lease
 * instead of waiting, on another connection, for the write lock its own transaction holds.
 *
 * One `AsyncLocalStorage` serves every pool: its store is the innermost frame, and each frame
 * links to the frame it was opened in, whatever that frame's pool, so a transaction of another
 * pool opened inside this one's callback does not hide it. (One instance per pool would make every
 * promise in the process pay one more propagation per pool on Node 20 and 22.)
 */
const scopes = new AsyncLocalStorage<TransactionFrame>();

export interface ScopeLease {
  readonly released: boolean;
}

/**
 * One `transaction()` callback (a transaction, or a nested one: a savepoint) on a lease. It is open
 * while its callback runs; code the callback left running after that (a timer, a promise nobody
 * awaited) is no longer inside it. Nested transactions opened from it, and its own statements while
 * one of them is open, take turns in its queue.
 */
export class TransactionFrame<L extends ScopeLease = ScopeLease> {
  /** The pool's identity (`LeaseHost.scopeKey`). */
  readonly pool: object;
  readonly lease: L;
  /** The frame this one was opened in, of any pool and lease. */
  readonly outer: TransactionFrame | undefined;
  open = true;
  #children: SerialQueue | undefined;
  readonly #counter: PendingCounter;

  /** `counter` counts the lease's nested work, so its statements look for a frame only while there is some. */
  constructor(pool: object, lease: L, counter: PendingCounter) {
    this.pool = pool;
    this.lease = lease;
    this.#counter = counter;
    this.outer = scopes.getStore();
  }

  /**
   * Runs `fn` inside this frame. Once it settles the frame closes, then waits for the nested
   * transactions and statements it queued: the transaction around them commits or rolls back only
   * after they are done, so none of them runs after it, outside any transaction.
   */
  async enter<T>(fn: () => T | Promise<T>): Promise<T> {
    try {
      return await scopes.run(this, fn);
    } finally {
      this.open = false;
      const draining = this.#children?.drained();
      if (draining !== undefined) await draining;
    }
  }

  /** The queue of the nested transactions opened in this frame (and of its statements while one is). */
  get children(): SerialQueue {
    return (this.#children ??= new SerialQueue(this.#counter));
  }

  /** Whether a nested transaction of this frame is open or queued: its statements wait for it. */
  get busy(): boolean {
    return this.#children !== undefined && this.#children.busy;
  }
}

/**
 * The lease of the innermost open transaction of `pool` that the caller runs inside. A lease
 * released while its callback still runs is returned all the same: a statement on it rejects with
 * `LeaseReleasedError` instead of running outside the transaction, in autocommit.
 */
export function transactionOf<L extends ScopeLease>(pool: object): L | undefined {
  for (let frame = scopes.getStore(); frame !== undefined; frame = frame.outer) {
    if (frame.pool === pool && frame.open) return frame.lease as L;
  }
  return undefined;
}

/** The innermost open frame of `lease` that the caller runs inside. */
export function frameOf<L extends ScopeLease>(lease: L): TransactionFrame<L> | undefined {
  for (let frame = scopes.getStore(); frame !== undefined; frame = frame.outer) {
    if (frame.lease === lease && frame.open) return frame as TransactionFrame<L>;
  }
  return undefined;
}
