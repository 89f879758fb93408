import type { TraceHandle } from './telemetry/pool-telemetry.js';

/** A caller waiting for a lease: settled exactly once, by a connection, its deadline or abort. */
export interface Waiter<T> {
  readonly enqueuedAt: number;
  readonly deadline: number;
  readonly timeoutMs: number;
  /** The acquire span, parent of the probes and creations done on this caller's behalf. */
  readonly trace: TraceHandle | undefined;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  /** Detaches the abort listener, if any. */
  cleanup: (() => void) | undefined;
  /** The stack of the caller's `getConnection()`, kept while leak detection is on. */
  readonly acquireStack?: string | undefined;
}

/**
 * First in, first out: the caller that waited longest gets the next connection. Deadlines are
 * checked by one housekeeper task for the earliest of them, not a timer per waiter.
 */
export class WaitQueue<T> {
  #waiters: Waiter<T>[] = [];

  get size(): number {
    return this.#waiters.length;
  }

  peek(): Waiter<T> | undefined {
    return this.#waiters[0];
  }

  push(waiter: Waiter<T>): void {
    this.#waiters.push(waiter);
  }

  shift(): Waiter<T> | undefined {
    return this.#waiters.shift();
  }

  /** Removes one waiter (aborted); returns whether it was still waiting. */
  remove(waiter: Waiter<T>): boolean {
    const index = this.#waiters.indexOf(waiter);
    if (index < 0) return false;
    this.#waiters.splice(index, 1);
    return true;
  }

  /** Removes and returns the waiters whose deadline has passed. */
  takeExpired(nowMs: number): Waiter<T>[] {
    const expired = this.#waiters.filter((waiter) => waiter.deadline <= nowMs);
    if (expired.length > 0) this.#waiters = this.#waiters.filter((waiter) => waiter.deadline > nowMs);
    return expired;
  }

  /** The earliest deadline among the waiters, or Infinity. */
  nextDeadline(): number {
    let earliest = Infinity;
    for (const waiter of this.#waiters) earliest = Math.min(earliest, waiter.deadline);
    return earliest;
  }

  /** Removes and returns every waiter (the pool is closing). */
  drain(): Waiter<T>[] {
    const all = this.#waiters;
    this.#waiters = [];
    return all;
  }
}
