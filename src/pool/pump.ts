import { now } from '../clock.js';
import type { HealthCheckConfig } from '../config/health-check-config.js';
import type { HealthCheckResult } from '../health/healthy-connection.js';
import { ConnectionStatus } from '../health/status.js';
import type { TraceHandle } from '../telemetry/pool-telemetry.js';
import type { ConnectionSet } from './connection-set.js';
import type { Queued } from './deadline-queue.js';
import type { Housekeeper } from './housekeeper.js';
import type { LeakDetector } from './leak-detector.js';
import type { Opener } from './opener.js';
import type { PoolEntry } from './pool-entry.js';
import type { Retirement } from './retirement.js';

/** A caller waiting for a connection. */
export interface AcquireWaiter extends Queued {
  /** The acquire span: the parent of probes and opens done on this caller's behalf. */
  readonly trace: TraceHandle | undefined;
  readonly acquireStack: string | undefined;
  /** Hands the caller its connection (already leased to it). */
  readonly grant: (entry: PoolEntry) => void;
}

/** The line of callers, as the pump takes from it. */
export interface WaiterLine {
  readonly size: number;
  peek(): AcquireWaiter | undefined;
  shift(): AcquireWaiter | undefined;
}

export interface PumpParts {
  readonly set: ConnectionSet;
  readonly waiters: WaiterLine;
  readonly opener: Opener;
  readonly retirement: Retirement;
  readonly leaks: LeakDetector;
  readonly housekeeper: Housekeeper;
  readonly config: HealthCheckConfig;
  readonly poolSize: number;
  /** Whether the pool lends at all (it is open; not opening, closing or closed). */
  readonly lending: () => boolean;
}

/**
 * The one function that moves the pool, as tarn.js's `_tryAcquireOrCreate` does: waiters take
 * idle connections, then connections a probe has passed, then new ones. The fast path, a
 * release, a probe result, an open result and every timer end here; nothing else lends a
 * connection. A connection counts against `poolSize` from the moment its open starts until its
 * close has finished, and a waiter already served by a probe or an open in flight starts no other.
 */
export class Pump {
  readonly #p: PumpParts;
  #running = false;
  #again = false;
  /** Borrow-time probes in flight, each on behalf of one waiter. */
  #probing = 0;

  constructor(parts: PumpParts) {
    this.#p = parts;
  }

  /**
   * The fast path: the most recently used idle connection, lent at once when nobody waits and it
   * needs no probe. Otherwise undefined: the caller queues, and `run()` serves it.
   */
  lendNow(acquireStack: string | undefined): PoolEntry | undefined {
    const { set, waiters } = this.#p;
    if (waiters.size > 0) return undefined;
    const top = set.peekIdle();
    if (top === undefined) return undefined;
    // One clock read for the whole decision: this runs for every statement of the shortcuts.
    const t = now();
    const healthy = top.healthy;
    if (top.suspect || healthy.needsProbe(t) || healthy.metrics.lastHealthCheckPassed === false || healthy.statusAt(t) !== ConnectionStatus.HEALTHY) return undefined;
    this.#lend(top, acquireStack, t);
    return top;
  }

  /**
   * Moves the pool forward. Not re-entrant: a nested call asks the running one to look again.
   * `parent` is the work that asked (a monitoring cycle): opens for the minimum are traced under it.
   */
  run(parent?: TraceHandle): void {
    this.#run(parent, false);
  }

  /**
   * A monitoring cycle's refill: up to the minimum even while failed opens back off. A cycle is an
   * attempt the user scheduled (every `intervalMs`), and it is how a pool with no connection left
   * and nobody waiting finds that the database is back.
   */
  refill(parent: TraceHandle | undefined): void {
    this.#run(parent, true);
  }

  #run(parent: TraceHandle | undefined, refill: boolean): void {
    // Most calls (a release with nobody waiting, the pool at its minimum) find nothing to do.
    const { set, waiters, config, poolSize } = this.#p;
    if (waiters.size === 0 && set.size - set.expiring + set.opening >= Math.min(config.minHealthyConnections, poolSize) && !this.#running) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        if (!this.#p.lending()) return;
        this.#serveWaiters();
        this.#openForDemand(parent, refill);
        refill = false;
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }

  /**
   * A reserved connection's probe finished (on borrow, or in a monitoring cycle): lend it, put it
   * back, or replace it; then move the pool. A connection that passed a borrow-time probe goes
   * straight to the head of the line: back on the idle stack, a cache shorter than the probe's
   * round trip (`cacheDurationMs` 0) would send it to another probe, and so on forever.
   */
  probed(entry: PoolEntry, result: HealthCheckResult, forWaiter: boolean, parent?: TraceHandle): void {
    if (entry.state === 'reserved' && !this.#p.lending()) this.#p.retirement.retire(entry, 'shutdown');
    if (entry.state === 'reserved') {
      const { set, waiters } = this.#p;
      if (result.passed) {
        entry.suspect = false;
        const waiter = forWaiter && this.#p.lending() ? waiters.shift() : undefined;
        if (waiter === undefined) set.makeIdle(entry);
        else this.#grant(entry, waiter);
      } else {
        const status = entry.healthy.status;
        if (status !== ConnectionStatus.HEALTHY) this.#p.retirement.retire(entry, entry.healthy.closeReason(status), false, parent);
        else {
          // Borrowers skip it until the cached failure expires; look again then.
          set.makeIdle(entry);
          this.#p.housekeeper.schedule('reprobe', this.#p.config.cacheDurationMs, () => this.run());
        }
      }
    }
    this.run(parent);
  }

  #serveWaiters(): void {
    const waiters = this.#p.waiters;
    while (waiters.size > 0) {
      const entry = this.#nextIdle();
      if (entry === undefined) return;
      const waiter = waiters.shift();
      if (waiter === undefined) return;
      this.#grant(entry, waiter);
    }
  }

  /** An idle connection fit to lend: retires unfit ones met on the way, probes those whose result is old. */
  #nextIdle(): PoolEntry | undefined {
    const { set, retirement, waiters } = this.#p;
    const t = now();
    for (const entry of set.idleSnapshot()) {
      const healthy = entry.healthy;
      const status = healthy.statusAt(t);
      if (status !== ConnectionStatus.HEALTHY) {
        retirement.retire(entry, healthy.closeReason(status, t));
        continue;
      }
      if (healthy.hasFreshFailure(t)) continue;
      if (entry.suspect || healthy.needsProbe(t)) {
        // One probe per waiter at most: more would only take connections from later callers.
        if (this.#probing < waiters.size) this.#probeFor(entry, waiters.peek()?.trace);
        continue;
      }
      return entry;
    }
    return undefined;
  }

  #probeFor(entry: PoolEntry, parent: TraceHandle | undefined): void {
    this.#p.set.reserve(entry);
    this.#probing++;
    void entry.probe('borrow', parent, false).then((result) => {
      this.#probing--;
      this.probed(entry, result, true);
    });
  }

  /** Opens for callers that no idle connection, probe or open in flight will serve, and up to the minimum. */
  #openForDemand(parent: TraceHandle | undefined, refill: boolean): void {
    const { set, opener, waiters, config, poolSize } = this.#p;
    const t = now();
    // Callers wait: opens started ahead of need, and closes that hold capacity, put off until a
    // macrotask (Opener.start, Retirement), go at once.
    if (waiters.size > 0) {
      opener.hurry();
      this.#p.retirement.hurry();
    }
    let demand = waiters.size - this.#probing - set.opening;
    // Connections about to expire do not count: their successors open ahead of need, so a
    // retirement never leaves a caller waiting for an open.
    let belowMinimum = Math.min(config.minHealthyConnections, poolSize) - (set.size - set.expiring) - set.opening;
    while ((demand > 0 || belowMinimum > 0) && set.capacityUsed < poolSize && (opener.ready(t) || (refill && belowMinimum > 0))) {
      opener.start(waiters.peek()?.trace ?? parent, demand <= 0);
      demand--;
      belowMinimum--;
    }
  }

  #grant(entry: PoolEntry, waiter: AcquireWaiter): void {
    this.#lend(entry, waiter.acquireStack, now());
    waiter.grant(entry);
  }

  #lend(entry: PoolEntry, acquireStack: string | undefined, t: number): void {
    this.#p.set.lease(entry);
    entry.leasedAt = t;
    entry.healthy.touch(t);
    this.#p.leaks.lent(entry, acquireStack);
  }
}
