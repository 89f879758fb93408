import { Deferrals } from '../macrotask.js';
import { errorMessage } from '../errors.js';
import type { CloseReason } from '../health/status.js';
import type { Logger } from '../logger.js';
import { telemetryRegistry, type ObservedPool, type TraceHandle } from '../telemetry/pool-telemetry.js';
import type { ConnectionSet } from './connection-set.js';
import type { PoolEntry } from './pool-entry.js';
import type { LifetimeCounters } from './statistics.js';

/**
 * Takes connections out of the pool and closes them. A closing connection still counts against
 * `poolSize` until its close has really finished (a child process's exit), so the pool never holds
 * more than its size, even for a moment; `settled()` waits for every close under way.
 */
export class Retirement {
  readonly #set: ConnectionSet;
  readonly #lifetime: LifetimeCounters;
  readonly #pool: ObservedPool;
  readonly #logger: Logger;
  readonly #closing = new Set<Promise<void>>();
  /** Closes of sound connections waiting for their macrotask (see DEFERRABLE). */
  readonly #deferred = new Deferrals();
  readonly #closed: (parent: TraceHandle | undefined) => void;

  constructor(set: ConnectionSet, lifetime: LifetimeCounters, pool: ObservedPool, logger: Logger, closed: (parent: TraceHandle | undefined) => void) {
    this.#set = set;
    this.#lifetime = lifetime;
    this.#pool = pool;
    this.#logger = logger;
    this.#closed = closed;
  }

  /**
   * Closes `entry` for `reason`; `kill` stops it at once (a statement may still be running).
   * `parent` is the work that retired it (a monitoring cycle): its replacement is traced under it.
   */
  retire(entry: PoolEntry, reason: CloseReason, kill = false, parent?: TraceHandle): void {
    // Only a connection of the pool is retired (and counted): not one still opening, nor one already gone.
    if (entry.state === 'closed' || entry.state === 'opening') return;
    const { healthy } = entry;
    this.#set.remove(entry);
    entry.lease?.end();
    this.#lifetime.closed[reason]++;
    this.#lifetime.closedConnectionUsage += healthy.metrics.usageCount;
    telemetryRegistry.active?.connectionClosed(this.#pool, healthy, reason);
    const message = `Closed ${entry.id} (${reason}) after ${(healthy.ageMs / 1000).toFixed(1)} s and ${healthy.metrics.usageCount} uses`;
    if (reason === 'unhealthy' || reason === 'error') this.#logger.warn(message);
    else this.#logger.debug(message);
    if (kill) entry.backend.kill(`closed by the pool (${reason})`);
    this.#track(entry, parent, reason);
  }

  /**
   * Starts the closes that wait for their macrotask: a caller waits for the capacity they hold, or
   * the pool is closing.
   */
  hurry(): void {
    this.#deferred.hurry();
  }

  /** Waits for every close under way (those put off start now). */
  async settled(): Promise<void> {
    this.hurry();
    while (this.#closing.size > 0) await Promise.allSettled([...this.#closing]);
  }

  #track(entry: PoolEntry, parent: TraceHandle | undefined, reason: CloseReason): void {
    this.#set.closing++;
    const closing: Promise<void> = (DEFERRABLE.has(reason) ? this.#deferred.later() : Promise.resolve())
      .then(() => entry.backend.close())
      .catch((error: unknown) => this.#logger.warn(`Closing ${entry.id} failed: ${errorMessage(error)}`))
      .finally(() => {
        this.#set.closing--;
        this.#closing.delete(closing);
        // Capacity came back: the pool may open a connection (a waiter's, or up to the minimum) now.
        this.#closed(parent);
      });
    this.#closing.add(closing);
  }
}

/**
 * A connection that reached a limit (age, usage, idle time) is sound: its close (about 100 µs on
 * the calling thread) waits for a macrotask, between callers' work, instead of running inside the
 * release of the caller whose statement used it up. Broken connections and the pool's own
 * shutdown close at once. The connection counts against `poolSize` until it has closed.
 */
const DEFERRABLE: ReadonlySet<CloseReason> = new Set<CloseReason>(['max_age', 'max_usage', 'idle']);
