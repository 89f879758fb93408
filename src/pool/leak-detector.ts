import type { Logger } from '../logger.js';
import type { Housekeeper } from './housekeeper.js';
import type { PoolEntry } from './pool-entry.js';

/**
 * Finds leases held longer than `leakDetectionThresholdMs` (HikariCP's ProxyLeakTask): one
 * housekeeper task checks the leased connections when the oldest lease reaches the threshold;
 * a lease released past the threshold before that check ran (a blocked event loop delays
 * timers) is counted at release. Every over-long lease is counted exactly once, and a leaked
 * lease that comes back is reported as returned.
 */
export class LeakDetector {
  readonly #thresholdMs: number;
  readonly #housekeeper: Housekeeper;
  readonly #logger: Logger;
  readonly #leased: () => Iterable<PoolEntry>;
  readonly #leaked: (entry: PoolEntry) => void;

  constructor(thresholdMs: number, housekeeper: Housekeeper, logger: Logger, leased: () => Iterable<PoolEntry>, leaked: (entry: PoolEntry) => void) {
    this.#thresholdMs = thresholdMs;
    this.#housekeeper = housekeeper;
    this.#logger = logger;
    this.#leased = leased;
    this.#leaked = leaked;
  }

  get enabled(): boolean {
    return this.#thresholdMs > 0;
  }

  /** Where `getConnection()` was called, taken at the call: a waiter is served later, from another stack. */
  acquireStack(): string | undefined {
    return this.#thresholdMs > 0 ? new Error('Acquired here').stack : undefined;
  }

  lent(entry: PoolEntry, acquireStack: string | undefined): void {
    entry.leakReported = false;
    if (this.#thresholdMs <= 0) return;
    entry.acquireStack = acquireStack ?? new Error('Acquired here').stack;
    if (!this.#housekeeper.has('leaks')) this.#housekeeper.schedule('leaks', this.#thresholdMs, () => this.#check());
  }

  returned(entry: PoolEntry, releasedAt: number): void {
    const heldMs = releasedAt - entry.leasedAt;
    if (entry.leakReported) this.#logger.info(`Leaked connection ${entry.id} returned after ${Math.round(heldMs)} ms`);
    else if (this.#thresholdMs > 0 && heldMs >= this.#thresholdMs) this.#report(entry, heldMs, ' (found on release)');
    entry.acquireStack = undefined;
    entry.leakReported = false;
  }

  #check(): void {
    const threshold = this.#thresholdMs;
    const t = performance.now();
    let nextDue = Infinity;
    const leaked: PoolEntry[] = [];
    for (const entry of this.#leased()) {
      if (entry.leakReported) continue;
      if (t - entry.leasedAt < threshold) nextDue = Math.min(nextDue, entry.leasedAt + threshold);
      else leaked.push(entry);
    }
    // Armed before reporting: whatever a report does, the next check stays scheduled.
    if (nextDue !== Infinity) this.#housekeeper.schedule('leaks', nextDue - t, () => this.#check());
    for (const entry of leaked) this.#report(entry, t - entry.leasedAt, '');
  }

  #report(entry: PoolEntry, heldMs: number, when: string): void {
    entry.leakReported = true;
    this.#leaked(entry);
    this.#logger.warn(
      `Possible leak${when}: ${entry.id} has been leased for ${Math.round(heldMs)} ms ` +
        `(leakDetectionThresholdMs ${this.#thresholdMs}); acquired at:\n${entry.acquireStack ?? '(no stack)'}`,
    );
  }
}
