/** A writer waiting for the lock, until its deadline (the pool rejects it then). */
export interface LockWaiter {
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly grant: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Serialises the pool's write transactions. SQLite allows one writer, and better-sqlite3 waits
 * for a lock by sleeping on the calling thread: a second `BEGIN IMMEDIATE` on another connection
 * while the first transaction awaits would block the event loop that the first one needs to
 * finish. Writers therefore queue here, asynchronously, before they begin.
 */
export class WriteLock {
  #held = false;
  #queue: LockWaiter[] = [];

  get held(): boolean {
    return this.#held;
  }

  /** Resolves when the caller holds the lock; call the returned function to let the next in. */
  acquire(deadline = Infinity, timeoutMs = Infinity): Promise<() => void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => this.#queue.push({ deadline, timeoutMs, grant: () => resolve(this.#releaser()), reject }));
  }

  /** The earliest deadline among the waiting writers, or Infinity. */
  nextDeadline(): number {
    let earliest = Infinity;
    for (const waiter of this.#queue) earliest = Math.min(earliest, waiter.deadline);
    return earliest;
  }

  /** Removes and returns the writers whose deadline has passed; the caller rejects them. */
  takeExpired(nowMs: number): LockWaiter[] {
    const expired = this.#queue.filter((waiter) => waiter.deadline <= nowMs);
    if (expired.length > 0) this.#queue = this.#queue.filter((waiter) => waiter.deadline > nowMs);
    return expired;
  }

  /** Removes and returns every waiting writer (the pool is closing). */
  drain(): LockWaiter[] {
    const all = this.#queue;
    this.#queue = [];
    return all;
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next === undefined) this.#held = false;
      else next.grant();
    };
  }
}
