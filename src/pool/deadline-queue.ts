import type { Housekeeper } from './housekeeper.js';

/** One caller in line: served by the owner of the queue, or failed at its deadline or abort. */
export interface Queued {
  /** `performance.now()` time past which the caller gives up; `Infinity` for never. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
}

/**
 * First in, first out, with a deadline and an optional AbortSignal per caller. The callers for a
 * connection and the writers for the write gate both wait in one of these. Deadlines are checked
 * by one housekeeper task for the earliest of them, not a timer per caller; that task keeps the
 * process alive, since a caller is awaiting the outcome.
 */
export class DeadlineQueue<W extends Queued> {
  #waiters: W[] = [];
  readonly #aborts = new Map<W, () => void>();
  readonly #housekeeper: Housekeeper;
  readonly #task: string;
  readonly #expired: (waiter: W) => void;
  /** While a batch of deadlines passes: the ones of the batch not yet rejected. */
  #expiring = 0;
  readonly #aborted: (waiter: W) => void;

  constructor(housekeeper: Housekeeper, task: string, handlers: { expired: (waiter: W) => void; aborted: (waiter: W) => void }) {
    this.#housekeeper = housekeeper;
    this.#task = task;
    this.#expired = handlers.expired;
    this.#aborted = handlers.aborted;
  }

  get size(): number {
    return this.#waiters.length + this.#expiring;
  }

  peek(): W | undefined {
    return this.#waiters[0];
  }

  push(waiter: W): void {
    this.#waiters.push(waiter);
    const signal = waiter.signal;
    if (signal !== undefined) {
      const onAbort = (): void => {
        if (this.remove(waiter)) this.#aborted(waiter);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#aborts.set(waiter, () => signal.removeEventListener('abort', onAbort));
    }
    if (waiter.deadline !== Infinity) this.#arm();
  }

  shift(): W | undefined {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#left(waiter);
    return waiter;
  }

  /** Removes one caller (aborted, or served another way); returns whether it was still waiting. */
  remove(waiter: W): boolean {
    const index = this.#waiters.indexOf(waiter);
    if (index < 0) return false;
    this.#waiters.splice(index, 1);
    this.#left(waiter);
    return true;
  }

  /** Removes the callers that match (a lease that ended takes its waits with it). */
  removeWhere(match: (waiter: W) => boolean): W[] {
    const removed = this.#waiters.filter(match);
    for (const waiter of removed) this.remove(waiter);
    return removed;
  }

  /** Removes and returns every caller (the pool is closing). */
  drain(): W[] {
    const all = this.#waiters;
    this.#waiters = [];
    for (const waiter of all) this.#detach(waiter);
    this.#housekeeper.cancel(this.#task);
    return all;
  }

  #left(waiter: W): void {
    this.#detach(waiter);
    if (this.#waiters.length === 0) this.#housekeeper.cancel(this.#task);
  }

  #detach(waiter: W): void {
    this.#aborts.get(waiter)?.();
    this.#aborts.delete(waiter);
  }

  #arm(): void {
    let earliest = Infinity;
    for (const waiter of this.#waiters) earliest = Math.min(earliest, waiter.deadline);
    if (earliest === Infinity) this.#housekeeper.cancel(this.#task);
    else this.#housekeeper.schedule(this.#task, earliest - performance.now(), () => this.#expire(), { keepAlive: true });
  }

  #expire(): void {
    const nowMs = performance.now();
    const expired = this.#waiters.filter((waiter) => waiter.deadline <= nowMs);
    if (expired.length > 0) this.#waiters = this.#waiters.filter((waiter) => waiter.deadline > nowMs);
    // Each one's error counts the callers still in line, those expiring with it still included.
    this.#expiring = expired.length;
    for (const waiter of expired) {
      this.#expiring--;
      this.#detach(waiter);
      this.#expired(waiter);
    }
    this.#arm();
  }
}
