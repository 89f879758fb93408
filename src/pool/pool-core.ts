import type { ConnectionBackend } from '../backend/backend.js';
import { now } from '../clock.js';
import type { ResolvedPoolOptions } from '../config/pool-options.js';
import { AcquireAbortedError, AcquireTimeoutError, LeaseReleasedError, PoolClosedError, errorMessage } from '../errors.js';
import { HealthyConnection, type HealthCheckResult } from '../health/healthy-connection.js';
import { ConnectionStatus } from '../health/status.js';
import { Lease, type LeaseHost } from '../lease/lease.js';
import { StatementCatalog } from '../lease/statement-catalog.js';
import type { RunContext, StatementOwner } from '../lease/statement-runner.js';
import type { MaybePromise } from '../backend/backend.js';
import { telemetryRegistry, type ObservedPool, type TraceHandle } from '../telemetry/pool-telemetry.js';
import { ConnectionSet } from './connection-set.js';
import { DeadlineQueue } from './deadline-queue.js';
import { Housekeeper } from './housekeeper.js';
import { LeakDetector } from './leak-detector.js';
import { Opener, type OpenerHost } from './opener.js';
import { PoolEntry } from './pool-entry.js';
import { Pump, type AcquireWaiter } from './pump.js';
import { Retirement } from './retirement.js';
import { Statistics } from './statistics.js';
import { SUMMARY_EVERY_MS, SummarizedWarning } from './summarized-warning.js';
import { TelemetryFailures } from './telemetry-failures.js';
import { WriteGate } from './write-gate.js';

interface Waiter extends AcquireWaiter {
  readonly timeoutMs: number;
  readonly fail: (error: unknown) => void;
}

/**
 * The machinery under `DatabaseManager`, wired once: the connections and the line of callers,
 * the pump, the opener, retirement, leak detection, the write gate, the one timer, the figures.
 * It lends and takes back connections; the manager owns the pool's life (opening, closing) and
 * its public API.
 */
export class PoolCore implements LeaseHost, OpenerHost {
  readonly options: ResolvedPoolOptions;
  readonly observed: ObservedPool;
  readonly set = new ConnectionSet();
  readonly housekeeper: Housekeeper;
  readonly statistics: Statistics;
  readonly telemetryFailures: TelemetryFailures;
  readonly waiters: DeadlineQueue<Waiter>;
  readonly gate: WriteGate;
  readonly opener: Opener;
  readonly retirement: Retirement;
  readonly leaks: LeakDetector;
  readonly pump: Pump;
  readonly context: RunContext;
  readonly scopeKey: object;
  openTransactions = 0;
  /** Whether connections are lent: the pool is open. */
  lending = false;
  /** While closing: called when the last lease has come back. */
  drained: (() => void) | undefined = undefined;
  readonly #timeoutWarnings: SummarizedWarning;

  constructor(options: ResolvedPoolOptions, observed: ObservedPool) {
    this.options = options;
    this.observed = observed;
    this.scopeKey = observed;
    const logger = options.logger;
    this.housekeeper = new Housekeeper((task, error) => logger.error(`The pool's ${task} task failed (it stays scheduled, and the pool's other tasks run on): ${errorMessage(error)}`, error));
    this.waiters = new DeadlineQueue<Waiter>(this.housekeeper, 'acquire-deadline', {
      expired: (waiter) => waiter.fail(this.#timedOut(waiter.timeoutMs)),
      aborted: (waiter) => waiter.fail(new AcquireAbortedError(waiter.signal?.reason)),
    });
    this.statistics = new Statistics(this.set, () => this.waiters.size, () => ({ max: options.poolSize, min: options.healthCheckConfig.minHealthyConnections }));
    this.#timeoutWarnings = new SummarizedWarning(
      this.housekeeper,
      'acquire-timeout-summary',
      logger,
      (count, last) => `${count} more acquire timeout(s) in the last ${SUMMARY_EVERY_MS / 1000} s; the last: ${last}`,
    );
    this.telemetryFailures = new TelemetryFailures(this.statistics.lifetime, logger);
    this.gate = new WriteGate(this.housekeeper);
    this.opener = new Opener(this);
    this.retirement = new Retirement(this.set, this.lifetime, observed, logger, (parent) => {
      if (this.lending) this.pump.run(parent);
    });
    this.leaks = new LeakDetector(options.leakDetectionThresholdMs, this.housekeeper, logger, () => this.set.inState('leased'), () => {
      this.lifetime.leaks++;
      telemetryRegistry.active?.leakDetected(observed);
    });
    this.pump = new Pump({
      set: this.set,
      waiters: this.waiters,
      opener: this.opener,
      retirement: this.retirement,
      leaks: this.leaks,
      housekeeper: this.housekeeper,
      config: options.healthCheckConfig,
      poolSize: options.poolSize,
      lending: () => this.lending,
    });
    this.context = {
      pool: observed,
      catalog: new StatementCatalog(Math.max(1000, options.statementCacheSize * 10)),
      gate: this.gate,
      busyTimeoutMs: options.busyTimeoutMs,
      queryTimeoutMs: options.queryTimeoutMs,
    };
  }

  get lifetime(): Statistics['lifetime'] {
    return this.statistics.lifetime;
  }

  /** A lease now if one is ready (the fast path), else a place in line until `timeoutMs`. */
  acquire(timeoutMs: number, signal: AbortSignal | undefined, acquireStack: string | undefined): Promise<Lease> {
    if (!this.lending) return Promise.reject(new PoolClosedError());
    if (signal?.aborted === true) return Promise.reject(new AcquireAbortedError(signal.reason));
    const entry = this.pump.lendNow(acquireStack);
    if (entry === undefined) return this.wait(timeoutMs, signal, acquireStack);
    const telemetry = telemetryRegistry.active;
    if (telemetry !== undefined) telemetry.acquireEnded(this.observed, telemetry.acquireStarted(this.observed), 0, entry.id, undefined);
    return Promise.resolve(new Lease(entry, this));
  }

  /** The fast path alone, for the shortcuts: a connection at once (its `leasedAt` is the clock reading), or none. */
  lendNow(): PoolEntry | undefined {
    if (!this.lending) return undefined;
    const entry = this.pump.lendNow(this.leaks.acquireStack());
    // One span for the statement; the (zero) wait is still recorded in the wait-time histogram.
    if (entry !== undefined) telemetryRegistry.active?.acquireEnded(this.observed, undefined, 0, entry.id, undefined);
    return entry;
  }

  /**
   * A lease came back: end its writes, make the connection fit again, then idle or replace it.
   * `releasedAt` is the caller's clock reading, where it has one (a shortcut: its statement's end).
   */
  returned(entry: PoolEntry, owner: StatementOwner, releasedAt: number = now()): void {
    this.gate.abandon(owner, () => new LeaseReleasedError(owner.connectionId));
    telemetryRegistry.active?.leaseReleased(this.observed, releasedAt - entry.leasedAt);
    this.leaks.returned(entry, releasedAt);
    if (entry.state !== 'leased') return; // ended by close(), or retired while out
    entry.lease = undefined;
    entry.healthy.touch(releasedAt);
    if (!this.lending) {
      // Closing: nothing is lent again, so nothing needs making fit; what still runs is stopped.
      this.retirement.retire(entry, 'shutdown', true);
      if (this.set.leasedCount === 0) this.drained?.();
      return;
    }
    let resetting: MaybePromise<boolean>;
    try {
      resetting = entry.backend.reset(this.options.healthCheckConfig.timeoutMs);
    } catch (error) {
      this.#unfit(entry, error);
      return;
    }
    if (!(resetting instanceof Promise)) {
      if (resetting) this.#rolledBack(entry);
      this.#settle(entry, releasedAt);
      return;
    }
    // Not lendable until it is fit: statements still running, a rollback round trip.
    this.set.reserve(entry);
    resetting.then(
      (rolledBack) => {
        if (rolledBack) this.#rolledBack(entry);
        this.#settle(entry, now());
      },
      (error: unknown) => this.#unfit(entry, error),
    );
  }

  /** A connection opened in the background joins the pool. */
  arrived(entry: PoolEntry): void {
    this.set.arrive(entry);
    if (this.lending) this.pump.run();
    else this.retirement.retire(entry, 'shutdown');
  }

  failed(retryAt: number): void {
    if (this.lending) this.housekeeper.schedule('open-retry', retryAt - now(), () => this.pump.run());
  }

  entryFor(backend: ConnectionBackend, id: string): PoolEntry {
    backend.label = id;
    const entry: PoolEntry = new PoolEntry(
      new HealthyConnection({ backend, config: this.options.healthCheckConfig, connectionId: id, onHealthCheck: (_, result) => this.#healthChecked(entry, result) }),
    );
    backend.onLost = (reason) => this.#lost(entry, reason);
    return entry;
  }

  /** A reserved connection probed outside any caller's wait (a monitoring cycle, a manual check). */
  probeReserved(entry: PoolEntry, parent: TraceHandle | undefined): Promise<HealthCheckResult> {
    this.set.reserve(entry);
    return entry.probe('monitor', parent, true).then((result) => {
      this.pump.probed(entry, result, false, parent);
      return result;
    });
  }

  /**
   * A place in line until `timeoutMs`; also while the pool is still opening (first use), when the
   * pump serves the line as soon as the pool lends.
   */
  wait(timeoutMs: number, signal: AbortSignal | undefined, acquireStack: string | undefined): Promise<Lease> {
    if (signal?.aborted === true) return Promise.reject(new AcquireAbortedError(signal.reason));
    const enqueuedAt = now();
    const telemetry = telemetryRegistry.active;
    const trace = telemetry?.acquireStarted(this.observed);
    return new Promise<Lease>((resolve, reject) => {
      this.waiters.push({
        deadline: enqueuedAt + timeoutMs,
        timeoutMs,
        signal,
        trace,
        acquireStack,
        // The caller first: whatever the report does, the lease (or the error) is already theirs.
        grant: (entry) => {
          resolve(new Lease(entry, this));
          telemetryRegistry.active?.acquireEnded(this.observed, trace, now() - enqueuedAt, entry.id, undefined);
        },
        fail: (error) => {
          reject(error);
          telemetryRegistry.active?.acquireEnded(this.observed, trace, now() - enqueuedAt, undefined, error);
        },
      });
      this.pump.run();
    });
  }

  #rolledBack(entry: PoolEntry): void {
    this.options.logger.warn(`${entry.id} was released inside an open transaction; rolled back`);
  }

  /** Fit again (or broken all along): back to idle, or replaced; then the pool moves. */
  #settle(entry: PoolEntry, t: number): void {
    if (entry.state === 'closed') return;
    if (!this.lending) {
      this.retirement.retire(entry, 'shutdown');
      return;
    }
    const status = entry.healthy.statusAt(t);
    if (status === ConnectionStatus.HEALTHY && entry.healthy.nearlyExpiredAt(t)) {
      this.set.markExpiring(entry);
      // In full use the pool has no room for its successor. Retired now, while another connection
      // serves, the successor opens during their work instead of during a caller's wait at the limit.
      if (this.set.capacityUsed >= this.options.poolSize && this.set.size - this.set.expiring > 0) {
        this.retirement.retire(entry, entry.healthy.nearLimitAt(t));
        this.pump.run();
        return;
      }
    }
    if (status !== ConnectionStatus.HEALTHY) this.retirement.retire(entry, entry.healthy.closeReason(status, t));
    else if (entry.suspect) {
      // A connection-level error that may concern another file: a deep probe decides now.
      if (entry.state !== 'reserved') this.set.reserve(entry);
      void entry.probe('error', undefined, true).then((result) => this.pump.probed(entry, result, true));
      return;
    } else this.set.makeIdle(entry);
    this.pump.run();
  }

  /** It could not be made fit (a rollback failed, statements ran past the grace period): replace it. */
  #unfit(entry: PoolEntry, error: unknown): void {
    if (entry.state === 'closed') return;
    this.options.logger.warn(`${entry.id} could not be made fit for the next caller (${errorMessage(error)}); replacing it`);
    entry.healthy.markUnhealthy('error');
    this.retirement.retire(entry, 'error', true);
    this.pump.run();
  }

  /** Worker mode: a process that crashed or was killed takes its connection with it. */
  #lost(entry: PoolEntry, reason: string): void {
    entry.healthy.markUnhealthy('error');
    this.options.logger.warn(`The process of ${entry.id} stopped (${reason}); replacing it`);
    if (entry.state === 'idle') {
      this.retirement.retire(entry, 'error');
      this.pump.run();
    }
  }

  #healthChecked(entry: PoolEntry, result: HealthCheckResult): void {
    this.lifetime.healthChecks++;
    if (result.error !== undefined) this.lifetime.healthCheckFailures++;
    const context = entry.probeContext;
    const trigger = context?.trigger ?? 'manual';
    const logger = this.options.logger;
    if (result.error === undefined) logger.debug(`Health check passed on ${entry.id} (${trigger}) in ${result.durationMs.toFixed(3)} ms`);
    else logger.warn(`Health check failed on ${entry.id} (${trigger}): ${result.error.message}; status ${result.statusAfter}`);
    telemetryRegistry.active?.healthChecked(this.observed, context?.parent, entry.healthy, result, trigger);
  }

  /** Counts and reports one acquire timeout; its error says who holds the pool. */
  #timedOut(timeoutMs: number): AcquireTimeoutError {
    this.lifetime.timeouts++;
    telemetryRegistry.active?.acquireTimedOut(this.observed);
    const error = new AcquireTimeoutError(timeoutMs, this.statistics.occupancy(), this.opener.lastError);
    this.#timeoutWarnings.report(error.message);
    return error;
  }
}
