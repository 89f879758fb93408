import { Deferrals } from '../macrotask.js';
import type { ConnectionBackend } from '../backend/backend.js';
import { openBackend } from '../backend/open-backend.js';
import { ReadonlyTexts } from '../backend/readonly-texts.js';
import { now } from '../clock.js';
import type { ResolvedPoolOptions } from '../config/pool-options.js';
import { isMemoryFilename } from '../config/database-url.js';
import { ConfigurationError, ConnectionCreateError, OpenTimeoutError, errorMessage } from '../errors.js';
import { telemetryRegistry, type ObservedPool, type TraceHandle } from '../telemetry/pool-telemetry.js';
import type { ConnectionSet } from './connection-set.js';
import type { Housekeeper } from './housekeeper.js';
import type { PoolEntry } from './pool-entry.js';
import { SUMMARY_EVERY_MS } from './summarized-warning.js';
import type { LifetimeCounters } from './statistics.js';

/** What the opener needs from its pool. */
export interface OpenerHost {
  readonly options: ResolvedPoolOptions;
  readonly set: ConnectionSet;
  readonly lifetime: LifetimeCounters;
  readonly housekeeper: Housekeeper;
  readonly observed: ObservedPool;
  /** Wraps an opened backend into a pool entry (health wrapper, probe and loss listeners). */
  entryFor(backend: ConnectionBackend, id: string): PoolEntry;
  /** A background open finished: `entry` (still counted as opening) joins the pool, or is closed if the pool is closing. */
  arrived(entry: PoolEntry): void;
  /** A background open failed: try again once `retryAt` (the back-off) has come. */
  failed(retryAt: number): void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

/**
 * Opens the pool's connections, in either mode, the only place that does: configures them,
 * probes each before it joins the pool, and spends a connection id only on one that opened.
 * While opens keep failing (the file is gone, a volume unmounted) they back off exponentially
 * (100 ms doubling to 5 s, jittered), are counted (`lifetime.openFailures`,
 * `sqlite_pool.connection.open_failures`), and are logged when things change: the first failure,
 * a summary every 30 s while it lasts, the recovery.
 */
export class Opener {
  readonly #host: OpenerHost;
  #ids = 0;
  #failuresInARow = 0;
  #retryAt = 0;
  #outage: { since: number; failures: number; sinceSummary: number } | undefined;
  /** Opens under way (each settles once its connection has arrived, or failed and closed). */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** One per open under way: aborted when the open runs past `connectTimeoutMs`, or all at once by `abandon()`. */
  readonly #controllers = new Set<AbortController>();
  /** Set by `abandon()`: no open starts again. */
  #abandoned: Error | undefined;
  /**
   * Whether the database file exists, as far as the pool knows: true once a connection opened it.
   * From then on a missing file is an outage, not a file to create again: replacements open with
   * `fileMustExist`, so the pool never lends connections to a new, empty database in its place.
   */
  #fileExists = false;
  /** The last open error, for the acquire-timeout message; cleared by a successful open. */
  lastError: unknown = undefined;
  /** Which texts only read: learned by any of the pool's worker connections, known to all (and to their replacements). */
  readonly #readonlyTexts: ReadonlyTexts;
  /** Opens ahead of need waiting for their macrotask (see `start`). */
  readonly #deferred = new Deferrals();

  constructor(host: OpenerHost) {
    this.#host = host;
    // As many texts as the pool's statement catalog keeps.
    this.#readonlyTexts = new ReadonlyTexts(Math.max(1000, host.options.statementCacheSize * 10));
  }

  /** Whether the back-off allows an attempt at `t`. */
  ready(t: number): boolean {
    return t >= this.#retryAt;
  }

  /**
   * Starts an open in the background; the entry arrives through the host. It counts against the
   * pool size from now. An open for a caller who waits starts once the call that asked for it has
   * returned (a promise job); an open ahead of need (up to the minimum, the successor of a
   * connection near its limit) starts in a macrotask (`setImmediate`), between callers' work: it
   * takes a few hundred µs on the calling thread, and a promise job would run it inside the chain
   * of awaits of whichever caller released last, though nobody waits for it. A caller who comes
   * to wait meanwhile hurries it (`hurry()`): it then starts as a promise job too.
   */
  start(parent: TraceHandle | undefined, aheadOfNeed: boolean): void {
    this.#host.set.opening++;
    void this.#track(
      (aheadOfNeed ? this.#deferred.later() : Promise.resolve()).then(() =>
        this.#open(parent).then(
          (entry) => this.#host.arrived(entry),
          () => this.#host.failed(this.#retryAt),
        ),
      ),
    );
  }

  /** Starts the opens ahead of need that still wait for their macrotask: a caller waits for them now. */
  hurry(): void {
    this.#deferred.hurry();
  }

  /**
   * Stops every open under way (each closes its handle or kills its process, then fails with
   * `reason`) and refuses new ones: `close()` does not wait for an open that may never finish.
   */
  abandon(reason: Error): void {
    this.#abandoned = reason;
    for (const controller of this.#controllers) controller.abort(reason);
  }

  /** Waits until no open is under way. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Opens, configures and probes one connection now (`initialize()`: no back-off, failures
   * thrown). The entry still counts as opening: the caller adds it with `set.arrive()`.
   */
  open(parent: TraceHandle | undefined): Promise<PoolEntry> {
    this.#host.set.opening++;
    return this.#track(this.#open(parent));
  }

  #track<T>(opening: Promise<T>): Promise<T> {
    const tracked = opening.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    tracked.catch(() => undefined);
    return opening;
  }

  /** Counted in `set.opening` from the call until `set.arrive()`, or until it failed and closed. */
  async #open(parent: TraceHandle | undefined): Promise<PoolEntry> {
    const host = this.#host;
    const options = host.options;
    const startedAt = now();
    let backend: ConnectionBackend | undefined;
    const controller = new AbortController();
    const timer = this.#deadline(controller);
    this.#controllers.add(controller);
    try {
      if (this.#abandoned !== undefined) throw this.#abandoned;
      const signal = controller.signal;
      const fileMustExist = options.fileMustExist || (this.#fileExists && !isMemoryFilename(options.filename));
      backend = await openBackend(options.mode, { ...options, fileMustExist, signal, label: 'a new connection', readonlyTexts: this.#readonlyTexts });
      const entry = host.entryFor(backend, `conn_${++this.#ids}`);
      if (options.healthCheckConfig.enabled) {
        const result = await entry.probe('connect', parent, true);
        if (!result.passed) throw result.error ?? new Error('The new connection failed its first probe');
      }
      signal.throwIfAborted();
      // A connection that died during its first probe is a failed open, not a pool connection to retire.
      if (!backend.open) throw new Error('The connection closed during its first probe');
      this.#fileExists = true;
      this.#opened(entry, parent, startedAt);
      return entry;
    } catch (error) {
      if (backend !== undefined) await backend.close().catch(() => undefined);
      host.set.opening--;
      // An open the pool abandoned because it is closing is not a failure of the database.
      if (error === this.#abandoned) throw error;
      throw this.#failed(error, parent, startedAt);
    } finally {
      clearTimeout(timer);
      this.#controllers.delete(controller);
    }
  }

  /** Aborts the open past `connectTimeoutMs`: an `onConnect` that never settles must not hold a place in the pool forever. */
  #deadline(controller: AbortController): NodeJS.Timeout | undefined {
    const timeoutMs = this.#host.options.connectTimeoutMs;
    if (!Number.isFinite(timeoutMs)) return undefined;
    const timer = setTimeout(() => controller.abort(new OpenTimeoutError(timeoutMs)), Math.min(timeoutMs, 0x7fffffff));
    // The open itself (its promise, its process) is what keeps the process alive while it runs.
    timer.unref();
    return timer;
  }

  #opened(entry: PoolEntry, parent: TraceHandle | undefined, startedAt: number): void {
    const host = this.#host;
    host.lifetime.created++;
    this.#failuresInARow = 0;
    this.#retryAt = 0;
    this.lastError = undefined;
    telemetryRegistry.active?.connectionCreated(host.observed, parent, startedAt, now() - startedAt, entry.id, undefined);
    host.options.logger.debug(`Opened ${entry.id} in ${(now() - startedAt).toFixed(2)} ms`);
    const outage = this.#outage;
    if (outage !== undefined) {
      this.#outage = undefined;
      host.housekeeper.cancel('open-failure-summary');
      host.options.logger.info(`Opened a connection to ${host.options.filename} again, after ${outage.failures} failed attempt(s) over ${((now() - outage.since) / 1000).toFixed(1)} s`);
    }
  }

  #failed(error: unknown, parent: TraceHandle | undefined, startedAt: number): unknown {
    const host = this.#host;
    host.lifetime.openFailures++;
    this.#failuresInARow++;
    const t = now();
    // "Equal jitter": between half the delay and all of it, so pools that failed together spread out
    // and the cap still holds.
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.#failuresInARow - 1));
    this.#retryAt = t + delay * (0.5 + Math.random() * 0.5);
    // A configuration problem (a pragma SQLite refused, an onConnect module that cannot load) stays one.
    const reported = error instanceof ConfigurationError || error instanceof ConnectionCreateError ? error : new ConnectionCreateError(host.options.filename, error);
    this.lastError = reported;
    // The span and the counter carry the cause (SQLITE_CANTOPEN...), not the pool's wrapper.
    telemetryRegistry.active?.connectionCreated(host.observed, parent, startedAt, t - startedAt, undefined, error);
    if (this.#outage === undefined) {
      this.#outage = { since: t, failures: 1, sinceSummary: 0 };
      host.options.logger.warn(`${errorMessage(reported)}; retrying with back-off (every ${MAX_RETRY_MS / 1000} s at most) and reporting every ${SUMMARY_EVERY_MS / 1000} s until it opens`);
      this.#scheduleSummary();
    } else {
      this.#outage.failures++;
      this.#outage.sinceSummary++;
    }
    return reported;
  }

  #scheduleSummary(): void {
    this.#host.housekeeper.schedule('open-failure-summary', SUMMARY_EVERY_MS, () => {
      const outage = this.#outage;
      if (outage === undefined) return;
      this.#scheduleSummary();
      if (outage.sinceSummary === 0) return;
      const seconds = ((now() - outage.since) / 1000).toFixed(0);
      this.#host.options.logger.warn(`Still cannot open a connection to ${this.#host.options.filename}: ${outage.sinceSummary} more failed attempt(s) in the last ${SUMMARY_EVERY_MS / 1000} s (${outage.failures} in ${seconds} s); last: ${errorMessage(this.lastError)}`);
      outage.sinceSummary = 0;
    });
  }
}
