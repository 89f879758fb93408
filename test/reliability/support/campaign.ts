/**
 * One round of the fault campaign: a pool on a real SQLite file, many simulated callers, a fault
 * injector, and a ledger of everything the callers saw. `runRound()` returns the violations it
 * found (empty when the pool kept every promise) and the numbers behind them.
 *
 * Time is real. Callers and the injector step through the event loop with `setImmediate` and
 * short `setTimeout`s, so the pool's own timers (acquire deadlines, leak checks, monitoring) and
 * its synchronous SQLite calls (busy waits, slow probes) interleave as they do in production.
 * The seed fixes what every actor does (each has its own PRNG stream), not the exact
 * interleaving; the assertions are invariants that hold for any interleaving, and the only ones
 * that involve time (deadlines, leak bounds) are measured against the event-loop stalls the
 * round itself observed.
 */
import { createHook } from 'node:async_hooks';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  BusyTimeoutError,
  CLOSE_REASONS,
  ConnectionCreateError,
  DatabaseManager,
  LeaseReleasedError,
  PoolClosedError,
  SqlitePoolError,
  SqlitePoolInstrumentation,
  type ConnectionStatsReport,
  type HealthyConnection,
  type Lease,
  type Logger,
} from '../../../src/index.js';
import { telemetryRegistry } from '../../../src/telemetry/pool-telemetry.js';
import { DatabaseFiles, INSERT_RETURNING_GEN, INSERT_SELF_TAGGED } from './files.js';
import { Prng } from './prng.js';
import { CollectedMetrics, testTelemetry, type TestTelemetry } from './telemetry.js';

/** A probe query that takes a few milliseconds (20,000 recursive steps). */
export const HEAVY_PROBE = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) > 0 FROM c';

export interface RoundConfig {
  readonly seed: number;
  readonly regime: Regime;
  readonly mode: 'thread' | 'worker';
  readonly durationMs: number;
  readonly callers: number;
  readonly journalMode: 'WAL' | 'DELETE';
  /** Rename, replace and restore the file (WAL only: see files.ts). */
  readonly fileFaults: boolean;
  /** Also unlink the live file (its writes are then lost legitimately). */
  readonly destroyFaults: boolean;
  readonly faultGapMs: readonly [number, number];
  readonly poolSize: number;
  readonly minHealthyConnections: number;
  readonly acquireTimeoutMs: number;
  readonly leakDetectionThresholdMs: number;
  readonly busyTimeoutMs: number;
  readonly statementCacheSize: number;
  readonly probe: {
    readonly timeoutMs: number;
    readonly query: string;
    readonly intervalMs: number;
    readonly cacheDurationMs: number;
    readonly maxAgeMs: number;
    readonly maxUsage: number;
    readonly maxIdleTimeMs: number;
    readonly maxConsecutiveFailures: number;
    readonly batchSize: number;
  };
}

/**
 * The regimes a round can run in; `seed % 4` picks one, so any four consecutive seeds cover all
 * of them, and the seed decides the rest.
 * - quiet: one to three callers, so the pool is often idle and lends from its fast path, and
 *   probe results are cached long (a failed probe must still keep a connection from callers);
 * - files: WAL, the file renamed away, restored, replaced (and sometimes unlinked) under load; a
 *   path left empty is an outage until a file is put back (the pool never creates a new file in
 *   place of the one it opened), and the round puts one back before it checks recovery;
 * - locks: rollback journal, where an exclusive lock also blocks readers and file-reading probes;
 * - crowd: many callers on a small pool: queues, timeouts, aborts, leaks;
 * - workers: mode 'worker' (each connection in its own process): connections are killed with
 *   SIGKILL instead of closed, slow probes kill their worker, the file is replaced and restored
 *   (the path is never left empty: without onConnect nothing would create the schema). Twice as
 *   long, since starting a worker takes a few hundred milliseconds.
 */
/** The opener's longest back-off between failed opens (src/pool/opener.ts). */
const OPEN_BACKOFF_MAX_MS = 5000;

export const REGIMES = ['quiet', 'files', 'locks', 'crowd', 'workers'] as const;
export type Regime = (typeof REGIMES)[number];

/** Everything about a round follows from its seed. */
export function roundConfig(seed: number, durationMs: number): RoundConfig {
  const rng = new Prng(seed);
  const regime = REGIMES[seed % REGIMES.length] as Regime;
  const workers = regime === 'workers';
  const journalMode = regime === 'files' || regime === 'crowd' || workers ? 'WAL' : regime === 'locks' ? 'DELETE' : rng.pick(['WAL', 'DELETE'] as const);
  const fileFaults = journalMode === 'WAL' && (regime === 'files' || workers || rng.chance(0.5));
  const poolSize = regime === 'crowd' ? rng.int(1, 3) : workers ? rng.int(2, 4) : rng.int(1, 6);
  return {
    seed,
    regime,
    mode: workers ? 'worker' : 'thread',
    durationMs: workers ? durationMs * 2 : durationMs,
    callers: regime === 'quiet' ? rng.int(1, 3) : regime === 'crowd' ? rng.int(12, 24) : rng.int(4, 16),
    journalMode,
    fileFaults,
    destroyFaults: fileFaults && !workers && rng.chance(0.4),
    faultGapMs: rng.pick([[2, 20], [10, 60], [40, 150]] as const),
    poolSize,
    minHealthyConnections: rng.int(0, Math.min(2, poolSize)),
    acquireTimeoutMs: rng.int(20, 250),
    leakDetectionThresholdMs: rng.int(200, 350),
    busyTimeoutMs: rng.int(2, 15),
    statementCacheSize: rng.pick([0, 3, 100]),
    probe: {
      timeoutMs: workers ? rng.int(200, 500) : rng.int(15, 60),
      query: regime === 'locks' ? rng.pick(['PRAGMA schema_version', 'SELECT count(*) FROM meta']) : rng.pick(['SELECT 1', 'PRAGMA schema_version', 'SELECT count(*) FROM meta']),
      intervalMs: workers ? rng.int(100, 400) : rng.int(20, 200),
      cacheDurationMs: regime === 'quiet' ? rng.int(50, 300) : rng.pick([0, rng.int(1, 40), rng.int(50, 300)]),
      maxAgeMs: rng.chance(0.5) ? Infinity : rng.int(400, 2000),
      maxUsage: rng.chance(0.5) ? 1000 : workers ? rng.int(50, 200) : rng.int(5, 60),
      maxIdleTimeMs: rng.chance(0.5) ? Infinity : rng.int(300, 1500),
      maxConsecutiveFailures: rng.int(0, 3),
      batchSize: rng.int(1, 5),
    },
  };
}

/** What a round found. `violations` is empty when every invariant held. */
export interface RoundReport {
  readonly config: RoundConfig;
  readonly violations: string[];
  readonly counts: Record<string, number>;
  readonly faults: Record<string, number>;
  readonly lifetime: ConnectionStatsReport['lifetime'] | undefined;
}

type Phase = 'faults' | 'recovery' | 'shutdown' | 'closed';
type ErrorKind = 'acquire' | 'statement' | 'planned' | 'released';

interface WriteRecord {
  readonly kind: 'txn' | 'run' | 'exec' | 'manual';
  gen: number | undefined;
  outcome: 'pending' | 'committed' | 'failed';
}

interface Abandoned {
  readonly held: Held;
  timer: NodeJS.Timeout | undefined;
}

class PlannedError extends Error {
  constructor(label: string) {
    super(`planned failure in ${label}`);
    this.name = 'PlannedError';
  }
}

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A scheduling step: the next macrotask, or a short real delay. */
function pause(rng: Prng): Promise<void> {
  return rng.chance(0.5) ? tick() : sleep(rng.int(0, 4));
}

export async function runRound(config: RoundConfig): Promise<RoundReport> {
  const round = new Round(config);
  try {
    await round.run();
  } catch (error) {
    round.violate(`the round itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    round.dispose();
  }
  return round.report();
}

class Round {
  readonly config: RoundConfig;
  readonly rng: Prng;
  readonly violations: string[] = [];
  readonly counts: Record<string, number> = {};
  readonly faults: Record<string, number> = {};
  readonly dir: string;
  readonly files: DatabaseFiles;
  readonly telemetry: TestTelemetry;
  readonly instrumentation: SqlitePoolInstrumentation;
  readonly pool: DatabaseManager;
  phase: Phase = 'faults';
  stopping = false;

  // What the callers saw.
  readonly ledger = new Map<string, WriteRecord>();
  /** Who holds each connection, by connection id. */
  readonly holders = new Map<string, string>();
  readonly holdsMs: number[] = [];
  readonly abandoned = new Set<Abandoned>();
  readonly abandonedHoldsMs: number[] = [];
  readonly seenConnections = new Set<HealthyConnection>();
  readonly openedHandles: Database.Database[] = [];
  /** Worker mode: the process ids of every worker seen. */
  readonly workerPids = new Set<number>();
  readonly closedBehindBack = new Set<HealthyConnection>();
  readonly inFlight = new Map<number, string>();
  acquireCalls = 0;
  acquireFailures = 0;
  timeoutsSeen = 0;
  closeEpoch = 0;
  maxStallMs = 0;
  /** The worst lateness past a deadline, and the earliest timeout (relative to its deadline). */
  worstLate = { byMs: -Infinity, label: '' };
  #writeSerial = 0;
  #lastGauges = '';
  #locker: Database.Database | undefined;
  #timers = new Set<NodeJS.Timeout>();
  #slowProbe: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #pendingTimerIds = new Set<number>();
  #hook = createHook({
    init: (asyncId, type) => {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (/[\\/]src[\\/]pool[\\/]housekeeper\.ts/.test(stack)) this.#pendingTimerIds.add(asyncId);
    },
    destroy: (asyncId) => {
      this.#pendingTimerIds.delete(asyncId);
    },
  });
  readonly #timeoutsBefore: number;

  constructor(config: RoundConfig) {
    this.config = config;
    this.rng = new Prng(config.seed ^ 0x5eed);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `fault-campaign-${config.seed}-`));
    this.files = new DatabaseFiles(this.dir, config.journalMode);
    this.telemetry = testTelemetry();
    this.instrumentation = new SqlitePoolInstrumentation({
      meterProvider: this.telemetry.meterProvider,
      tracerProvider: this.telemetry.tracerProvider,
    });
    // Nothing is read from the log: every figure the campaign checks comes from the pool's
    // counters and its telemetry (a connection closed twice shows as closed > created - open).
    const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    this.#timeoutsBefore = activeTimeouts();
    this.#hook.enable();
    this.pool = new DatabaseManager({
      filename: this.files.path,
      poolSize: config.poolSize,
      acquireTimeoutMs: config.acquireTimeoutMs,
      leakDetectionThresholdMs: config.leakDetectionThresholdMs,
      busyTimeoutMs: config.busyTimeoutMs,
      statementCacheSize: config.statementCacheSize,
      closeTimeoutMs: 50,
      pragmas: { journal_mode: config.journalMode, synchronous: 'NORMAL', foreign_keys: 'ON' },
      healthCheckConfig: { ...config.probe, minHealthyConnections: config.minHealthyConnections },
      logger,
      mode: config.mode,
      // Worker mode takes no onConnect: the test creates every file the pool will see (see #fault).
      ...(config.mode === 'thread'
        ? {
            onConnect: (db: Database.Database) => {
              this.openedHandles.push(db);
              this.files.prepare(db);
            },
          }
        : {}),
    });
    if (config.mode === 'worker') this.files.replace();
  }

  count(name: string, by = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + by;
  }

  violate(message: string): void {
    this.count('violations');
    if (this.violations.length < 40) this.violations.push(`[${this.phase}] ${message}`);
  }

  report(): RoundReport {
    return {
      config: this.config,
      violations: this.violations,
      counts: { ...this.counts, acquireCalls: this.acquireCalls, acquireFailures: this.acquireFailures, timeoutsSeen: this.timeoutsSeen, maxStallMs: Math.round(this.maxStallMs), generations: this.files.generations },
      faults: this.faults,
      lifetime: this.pool.getConnectionStatsSync().lifetime,
    };
  }

  dispose(): void {
    this.#hook.disable();
    for (const timer of this.#timers) clearTimeout(timer);
    if (this.#locker?.open) this.#locker.close();
    this.instrumentation.disable();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // --- the round ----------------------------------------------------------------------------

  async run(): Promise<void> {
    await this.pool.initialize();
    const lag = this.#watchLag();
    const callers = Array.from({ length: this.config.callers }, (_, i) => this.#caller(i, this.rng.fork(i + 1)));
    const injector = this.#injectFaults(this.rng.fork(1000));
    await sleep(this.config.durationMs);
    this.stopping = true;
    await injector;
    let watchdog: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled(callers).then(() => true),
      new Promise<boolean>((resolve) => (watchdog = this.#setTimer(() => resolve(false), 10_000))),
    ]);
    if (watchdog !== undefined) clearTimeout(watchdog);
    if (!settled) {
      this.violate(`callers still busy 10 s after the faults stopped: ${[...this.inFlight].map(([i, what]) => `caller ${i}: ${what}`).join('; ')}`);
    }
    this.#stopFaults();
    for (const entry of [...this.abandoned]) this.#returnAbandoned(entry);
    await lag.stop();

    this.phase = 'recovery';
    await this.#recover();
    this.phase = 'shutdown';
    await this.#shutdown();
    this.phase = 'closed';
    await this.#afterClose();
    this.#checkWrites();
  }

  // --- callers ------------------------------------------------------------------------------

  async #caller(index: number, rng: Prng): Promise<void> {
    let step = 0;
    while (!this.stopping) {
      const label = `c${index}#${++step}`;
      const action = rng.weighted({
        read: 20,
        readShortcut: 10,
        txn: 20,
        runShortcut: 8,
        execShortcut: 3,
        manualTxn: 8,
        withConnection: 6,
        doubleRelease: 5,
        abort: 4,
        iterate: 3,
        abandon: 1.5,
      });
      this.inFlight.set(index, `${action} (${label})`);
      this.count(`action.${action}`);
      const timeoutMs = rng.chance(0.2) ? rng.int(1, 30) : this.config.acquireTimeoutMs;
      try {
        await this.#act(action, label, rng, timeoutMs);
      } catch (error) {
        this.violate(`${label} ${action} escaped with ${describe(error)}`);
      }
      this.inFlight.delete(index);
      this.#checkStats(label);
      await pause(rng);
    }
  }

  async #act(action: string, label: string, rng: Prng, timeoutMs: number): Promise<void> {
    switch (action) {
      case 'read':
        return this.#read(label, rng, timeoutMs);
      case 'readShortcut':
        return this.#shortcut(label, () => (rng.chance(0.5) ? this.pool.get('SELECT count(*) AS n FROM writes') : this.pool.all('SELECT id FROM writes ORDER BY id LIMIT 3')));
      case 'txn':
        return this.#transaction(label, rng, timeoutMs);
      case 'runShortcut': {
        const id = this.#newWrite('run');
        return this.#shortcut(label, () => this.pool.run(INSERT_SELF_TAGGED, [id, 'run']), id);
      }
      case 'execShortcut': {
        const id = this.#newWrite('exec');
        return this.#shortcut(label, () => this.pool.exec(`INSERT INTO writes (id, gen, kind) SELECT '${id}', gen, 'exec' FROM meta`), id);
      }
      case 'manualTxn':
        return this.#manualTransaction(label, rng, timeoutMs);
      case 'withConnection':
        return this.#withConnection(label, rng, timeoutMs);
      case 'doubleRelease':
        return this.#doubleRelease(label, timeoutMs);
      case 'abort':
        return this.#abortable(label, rng);
      case 'iterate':
        return this.#iterate(label, timeoutMs);
      case 'abandon':
        return this.#abandon(label, rng, timeoutMs);
      default:
        throw new Error(`unknown action ${action}`);
    }
  }

  async #read(label: string, rng: Prng, timeoutMs: number): Promise<void> {
    const epoch = this.closeEpoch;
    const held = await this.#acquire(label, timeoutMs);
    if (held === undefined) return;
    try {
      await held.lease.all('SELECT id FROM writes ORDER BY id DESC LIMIT 5');
      while (rng.chance(0.5)) await pause(rng); // hold the lease across awaits
      await held.lease.get('SELECT count(*) AS n FROM writes');
    } catch (error) {
      this.#classify(error, label, epoch);
    } finally {
      this.#release(held);
    }
  }

  async #iterate(label: string, timeoutMs: number): Promise<void> {
    const epoch = this.closeEpoch;
    const held = await this.#acquire(label, timeoutMs);
    if (held === undefined) return;
    try {
      let rows = 0;
      // `for await` takes the synchronous iterator of the in-thread API and an asynchronous one alike.
      for await (const _row of held.lease.iterate('SELECT id FROM writes LIMIT 20')) rows++;
      this.count('iteratedRows', rows);
    } catch (error) {
      this.#classify(error, label, epoch);
    } finally {
      this.#release(held);
    }
  }

  async #transaction(label: string, rng: Prng, timeoutMs: number): Promise<void> {
    const rows = rng.int(1, 3);
    const willThrow = rng.chance(0.25);
    const planned = new PlannedError(label);
    const ids: string[] = [];
    const startedAt = now();
    const epoch = this.closeEpoch;
    let fnStarted = false;
    let threwPlanned = false;
    this.acquireCalls++;
    try {
      await this.pool.transaction(async (lease) => {
        fnStarted = true;
        this.#deadlineMet(label, startedAt, timeoutMs, false, 'transaction');
        const held = this.#leased(lease, label, epoch, true);
        try {
          let gen: number | undefined;
          for (let i = 0; i < rows; i++) {
            const id = this.#newWrite('txn');
            ids.push(id);
            const row = await lease.get<{ gen: number }>(INSERT_RETURNING_GEN, [id, 'txn']);
            if (row === undefined) throw new Error('INSERT ... RETURNING returned nothing');
            if (gen !== undefined && row.gen !== gen) this.violate(`${label}: one transaction wrote to generations ${gen} and ${row.gen}`);
            gen = row.gen;
            if (rng.chance(0.4)) await pause(rng);
          }
          for (const id of ids) this.#record(id).gen = gen;
          if (willThrow) {
            threwPlanned = true;
            throw planned;
          }
        } finally {
          this.#unheld(held);
        }
      }, { timeoutMs });
      for (const id of ids) this.#record(id).outcome = 'committed';
      this.count('committedTransactions');
    } catch (error) {
      for (const id of ids) this.#record(id).outcome = 'failed';
      if (threwPlanned && error !== planned) this.violate(`${label}: transaction() replaced the callback's error with ${describe(error)}`);
      const kind = this.#classify(error, label, epoch, { planned });
      if (kind === 'acquire' && !fnStarted) {
        this.acquireFailures++;
        this.#deadlineMet(label, startedAt, timeoutMs, error instanceof AcquireTimeoutError, 'transaction');
      }
    }
  }

  async #manualTransaction(label: string, rng: Prng, timeoutMs: number): Promise<void> {
    const epoch = this.closeEpoch;
    const held = await this.#acquire(label, timeoutMs);
    if (held === undefined) return;
    const ids: string[] = [];
    try {
      await held.lease.run('BEGIN');
      for (let i = rng.int(1, 2); i > 0; i--) {
        const id = this.#newWrite('manual');
        ids.push(id);
        const row = await held.lease.get<{ gen: number }>(INSERT_RETURNING_GEN, [id, 'manual']);
        this.#record(id).gen = row?.gen;
        if (rng.chance(0.3)) await pause(rng);
      }
      if (rng.chance(0.7)) {
        await held.lease.run('COMMIT');
        for (const id of ids) this.#record(id).outcome = 'committed';
      } else {
        // Left open: the pool must roll it back on release and never lend it open.
        this.count('leftOpenTransactions');
      }
    } catch (error) {
      this.#classify(error, label, epoch);
    } finally {
      for (const id of ids) if (this.#record(id).outcome === 'pending') this.#record(id).outcome = 'failed';
      this.#release(held);
    }
  }

  async #withConnection(label: string, rng: Prng, timeoutMs: number): Promise<void> {
    const planned = new PlannedError(label);
    const willThrow = rng.chance(0.5);
    const startedAt = now();
    const epoch = this.closeEpoch;
    let fnStarted = false;
    this.acquireCalls++;
    try {
      const body = async (lease: Lease, db: Database.Database | undefined): Promise<void> => {
        fnStarted = true;
        this.#deadlineMet(label, startedAt, timeoutMs, false, 'withConnection');
        const held = this.#leased(lease, label, epoch, false);
        try {
          if (db !== undefined) db.prepare('SELECT count(*) FROM writes').get();
          else await lease.get('SELECT count(*) FROM writes');
          await pause(rng);
          if (willThrow) throw planned;
        } finally {
          this.#unheld(held);
        }
      };
      // withConnection() hands out the raw handle, which only the in-thread mode has.
      if (this.config.mode === 'thread') await this.pool.withConnection((db, lease) => body(lease, db), { timeoutMs });
      else await this.pool.withLease((lease) => body(lease, undefined), { timeoutMs });
      if (willThrow) this.violate(`${label}: withConnection() resolved although its callback threw`);
    } catch (error) {
      const kind = this.#classify(error, label, epoch, { planned: willThrow ? planned : undefined });
      if (kind === 'acquire' && !fnStarted) {
        this.acquireFailures++;
        this.#deadlineMet(label, startedAt, timeoutMs, error instanceof AcquireTimeoutError, 'withConnection');
      }
    }
  }

  async #doubleRelease(label: string, timeoutMs: number): Promise<void> {
    const epoch = this.closeEpoch;
    const held = await this.#acquire(label, timeoutMs);
    if (held === undefined) return;
    try {
      await held.lease.get('SELECT 1');
    } catch (error) {
      this.#classify(error, label, epoch);
    }
    this.#release(held);
    try {
      held.lease.release();
    } catch (error) {
      this.violate(`${label}: a second release threw ${describe(error)}`);
    }
    if (!held.lease.released) this.violate(`${label}: lease.released is false after release()`);
    try {
      await held.lease.get('SELECT 1');
      this.violate(`${label}: a released lease still ran a statement`);
    } catch (error) {
      if (!(error instanceof LeaseReleasedError)) this.violate(`${label}: use after release threw ${describe(error)}, not LeaseReleasedError`);
    }
  }

  async #abortable(label: string, rng: Prng): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`${label} gave up`)), rng.int(0, 15));
    const epoch = this.closeEpoch;
    const startedAt = now();
    this.acquireCalls++;
    try {
      const lease = await this.pool.getConnection({ signal: controller.signal, timeoutMs: this.config.acquireTimeoutMs });
      this.#deadlineMet(label, startedAt, this.config.acquireTimeoutMs, false, 'getConnection');
      this.#release(this.#leased(lease, label, epoch, false));
    } catch (error) {
      const kind = this.#classify(error, label, epoch, { abortable: true });
      if (kind === 'acquire') this.acquireFailures++;
      if (error instanceof AcquireAbortedError && !controller.signal.aborted) this.violate(`${label}: AcquireAbortedError without an abort`);
      this.#deadlineMet(label, startedAt, this.config.acquireTimeoutMs, error instanceof AcquireTimeoutError, 'getConnection');
    } finally {
      clearTimeout(timer);
    }
  }

  async #abandon(label: string, rng: Prng, timeoutMs: number): Promise<void> {
    // Keep at least one connection for everybody else.
    if (this.abandoned.size >= this.config.poolSize - 1) return;
    const held = await this.#acquire(label, timeoutMs);
    if (held === undefined) return;
    const entry: Abandoned = { held, timer: undefined };
    this.abandoned.add(entry);
    this.count('abandoned');
    if (rng.chance(0.7)) {
      // Returned late, well after the leak threshold; the rest are returned when the faults stop.
      const threshold = this.config.leakDetectionThresholdMs;
      entry.timer = this.#setTimer(() => this.#returnAbandoned(entry), Math.round(threshold * 1.5) + rng.int(0, threshold));
    }
  }

  #returnAbandoned(entry: Abandoned): void {
    if (!this.abandoned.delete(entry)) return;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.abandonedHoldsMs.push(now() - entry.held.since);
    this.#release(entry.held);
  }

  async #shortcut(label: string, call: () => Promise<unknown>, writeId?: string): Promise<void> {
    const epoch = this.closeEpoch;
    const startedAt = now();
    this.acquireCalls++;
    try {
      await call();
      if (writeId !== undefined) this.#record(writeId).outcome = 'committed';
    } catch (error) {
      if (writeId !== undefined) this.#record(writeId).outcome = 'failed';
      const kind = this.#classify(error, label, epoch);
      if (kind === 'acquire') {
        this.acquireFailures++;
        this.#deadlineMet(label, startedAt, this.config.acquireTimeoutMs, error instanceof AcquireTimeoutError, 'shortcut');
      }
    }
  }

  // --- leases -------------------------------------------------------------------------------

  async #acquire(label: string, timeoutMs: number): Promise<Held | undefined> {
    const epoch = this.closeEpoch;
    const startedAt = now();
    this.acquireCalls++;
    try {
      const lease = await this.pool.getConnection({ timeoutMs });
      this.#deadlineMet(label, startedAt, timeoutMs, false, 'getConnection');
      return this.#leased(lease, label, epoch, false);
    } catch (error) {
      this.acquireFailures++;
      if (this.#classify(error, label, epoch) !== 'acquire') this.violate(`${label}: getConnection() rejected with a non-acquire error ${describe(error)}`);
      this.#deadlineMet(label, startedAt, timeoutMs, error instanceof AcquireTimeoutError, 'getConnection');
      return undefined;
    }
  }

  /** What must hold for a connection the moment a caller gets it. */
  #leased(lease: Lease, label: string, epoch: number, insideTransaction: boolean): Held {
    const id = lease.connectionId;
    const healthy = lease.healthyConnection;
    this.seenConnections.add(healthy);
    if (healthy.processId !== undefined) this.workerPids.add(healthy.processId);
    const holder = this.holders.get(id);
    if (holder !== undefined) this.violate(`${id} was leased to ${label} while ${holder} still held it`);
    this.holders.set(id, label);
    if (!insideTransaction && lease.inTransaction) this.violate(`${label} received ${id} with an open transaction`);
    if (healthy.metrics.lastHealthCheckPassed === false) {
      this.violate(`${label} received ${lease.connectionId} whose last probe failed (${healthy.metrics.lastHealthCheckError?.code ?? '?'})`);
    }
    if (!healthy.open && this.closeEpoch === epoch) this.violate(`${label} received ${id} with a closed connection`);
    return { lease, label, since: now(), id };
  }

  #unheld(held: Held): void {
    if (this.holders.get(held.id) === held.label) this.holders.delete(held.id);
    this.holdsMs.push(now() - held.since);
  }

  #release(held: Held): void {
    this.#unheld(held);
    held.lease.release();
  }

  // --- what callers may see -----------------------------------------------------------------

  /** Every error a caller gets must be typed and expected in context. */
  #classify(error: unknown, label: string, epoch: number, context: { planned?: Error; abortable?: boolean } = {}): ErrorKind | undefined {
    if (context.planned !== undefined && error === context.planned) return 'planned';
    if (error instanceof AcquireTimeoutError) {
      this.timeoutsSeen++;
      return 'acquire';
    }
    if (error instanceof AcquireAbortedError) {
      if (!context.abortable) this.violate(`${label}: AcquireAbortedError without a signal`);
      return 'acquire';
    }
    if (error instanceof PoolClosedError) {
      if (this.phase !== 'shutdown' && this.phase !== 'closed') this.violate(`${label}: PoolClosedError while the pool was open`);
      return 'acquire';
    }
    if (error instanceof ConnectionCreateError) return 'acquire';
    if (error instanceof SqlitePoolError && error.code === 'SQLITE_POOL_WORKER_EXITED') {
      this.count('workerExitedErrors');
      // Only a fault that killed workers behind the pool's back may cause this.
      if (this.closeEpoch === epoch) this.violate(`${label}: a worker exited with no kill fault: ${error.message}`);
      return 'statement';
    }
    if (error instanceof LeaseReleasedError) {
      this.violate(`${label}: unexpected LeaseReleasedError`);
      return 'released';
    }
    if (error instanceof BusyTimeoutError) {
      // The lock stayed taken past busyTimeoutMs (by a fault's locker, or a transaction of the pool's own).
      this.count('busyTimeouts');
      return 'statement';
    }
    if (error instanceof SqlitePoolError) {
      this.violate(`${label}: unexpected ${describe(error)}`);
      return undefined;
    }
    if (error instanceof Database.SqliteError) {
      this.count(`sqlite.${error.code}`);
      if (/^SQLITE_(CONSTRAINT|CORRUPT|NOTADB|MISUSE)/.test(error.code)) this.violate(`${label}: ${error.code}: ${error.message}`);
      return 'statement';
    }
    if (error instanceof TypeError && /database connection is not open/i.test(error.message)) {
      this.count('closedHandleErrors');
      // Only a fault that closed handles behind the pool's back may cause this.
      if (this.closeEpoch === epoch) this.violate(`${label}: a closed handle with no close fault: ${error.message}`);
      return 'statement';
    }
    this.violate(`${label}: untyped error ${describe(error)}`);
    return undefined;
  }

  /** Records how long an acquire took against its deadline; a timeout before the deadline is a bug. */
  #deadlineMet(label: string, startedAt: number, timeoutMs: number, timedOut: boolean, how: string): void {
    const elapsed = now() - startedAt;
    if (timedOut && elapsed < timeoutMs - 1) this.violate(`${label}: ${how} timed out after ${elapsed.toFixed(1)} ms, before its ${timeoutMs} ms deadline`);
    const late = elapsed - timeoutMs;
    if (late > this.worstLate.byMs) this.worstLate = { byMs: late, label: `${label} (${how}, ${timedOut ? 'timed out' : 'settled'} after ${elapsed.toFixed(1)} ms, deadline ${timeoutMs} ms)` };
  }

  #checkStats(where: string): void {
    if (this.config.mode === 'worker') {
      for (const connection of this.pool.connections()) if (connection.processId !== undefined) this.workerPids.add(connection.processId);
    }
    const stats = this.pool.getConnectionStatsSync();
    if (stats.usedConnections + stats.availableConnections > stats.maxPoolSize) {
      this.violate(`${where}: used ${stats.usedConnections} + idle ${stats.availableConnections} > poolSize ${stats.maxPoolSize}`);
    }
    if (stats.poolSize > stats.maxPoolSize) this.violate(`${where}: ${stats.poolSize} connections open, poolSize ${stats.maxPoolSize}`);
    if (this.phase === 'faults' && stats.usedConnections < this.holders.size) {
      this.violate(`${where}: the pool counts ${stats.usedConnections} used connections while callers hold ${this.holders.size}`);
    }
  }

  #newWrite(kind: WriteRecord['kind']): string {
    const id = `w${this.config.seed}-${++this.#writeSerial}`;
    this.ledger.set(id, { kind, gen: undefined, outcome: 'pending' });
    return id;
  }

  #record(id: string): WriteRecord {
    const record = this.ledger.get(id);
    if (record === undefined) throw new Error(`no ledger entry ${id}`);
    return record;
  }

  // --- faults -------------------------------------------------------------------------------

  async #injectFaults(rng: Prng): Promise<void> {
    const { fileFaults, destroyFaults, faultGapMs } = this.config;
    while (!this.stopping) {
      await sleep(rng.int(faultGapMs[0], faultGapMs[1]));
      if (this.stopping) break;
      const fault = rng.weighted({
        closeBehindBack: 3,
        lock: 3,
        slowProbes: 3,
        expireAll: 1,
        moveAway: fileFaults ? 1.5 : 0,
        restore: fileFaults ? 1.5 : 0,
        replace: fileFaults ? 1 : 0,
        destroy: destroyFaults ? 0.5 : 0,
      });
      this.faults[fault] = (this.faults[fault] ?? 0) + 1;
      try {
        this.#fault(fault, rng);
      } catch (error) {
        this.violate(`fault ${fault} failed: ${describe(error)}`);
      }
      this.#checkStats(`after ${fault}`);
    }
  }

  #fault(fault: string, rng: Prng): void {
    const config = this.pool.healthCheckConfig;
    switch (fault) {
      case 'closeBehindBack': {
        const all = rng.chance(0.5);
        for (const connection of this.pool.connections()) {
          if (!(all || rng.chance(0.5)) || !connection.open) continue;
          const pid = connection.processId;
          if (pid !== undefined) {
            this.workerPids.add(pid);
            process.kill(pid, 'SIGKILL'); // worker mode: the process dies under the pool
          } else {
            connection.connection.close();
          }
          this.closedBehindBack.add(connection);
        }
        this.closeEpoch++;
        return;
      }
      case 'lock': {
        if (this.#locker !== undefined || !this.files.exists()) return;
        let locker: Database.Database | undefined;
        try {
          locker = new Database(this.files.path, { fileMustExist: true, timeout: 0 });
          locker.exec('BEGIN EXCLUSIVE');
        } catch {
          locker?.close();
          this.count('lockNotTaken');
          return;
        }
        this.#locker = locker;
        this.#setTimer(() => this.#unlock(), rng.int(5, 120));
        return;
      }
      case 'slowProbes': {
        if (this.#slowProbe !== undefined) return;
        const how = rng.pick(['heavy', 'tinyTimeout', 'fileQuery', 'disabled'] as const);
        this.count(`slowProbes.${how}`);
        if (how === 'heavy') {
          config.query = HEAVY_PROBE;
          config.timeoutMs = 1;
        } else if (how === 'tinyTimeout') {
          config.timeoutMs = 0.001;
        } else if (how === 'fileQuery') {
          config.query = 'SELECT count(*) FROM writes';
        } else {
          config.enabled = false;
        }
        this.#slowProbe = this.#setTimer(() => this.#restoreProbes(), rng.int(20, 300));
        return;
      }
      case 'expireAll': {
        if (this.#expiry !== undefined) return;
        config.maxAgeMs = 1;
        this.#expiry = this.#setTimer(() => this.#restoreAge(), rng.int(1, 30));
        return;
      }
      case 'moveAway':
        // Worker mode: nothing would create the schema in a file the pool creates; put a fresh one in.
        if (this.config.mode === 'worker') this.files.replace();
        else this.files.moveAway();
        return;
      case 'restore':
        if (this.files.away.length > 0) this.files.restore(rng.int(0, this.files.away.length - 1));
        return;
      case 'replace':
        this.files.replace();
        return;
      case 'destroy':
        this.files.destroy();
        return;
      default:
        throw new Error(`unknown fault ${fault}`);
    }
  }

  #unlock(): void {
    const locker = this.#locker;
    this.#locker = undefined;
    if (locker?.open) {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    }
  }

  #restoreProbes(): void {
    if (this.#slowProbe !== undefined) clearTimeout(this.#slowProbe);
    this.#slowProbe = undefined;
    const config = this.pool.healthCheckConfig;
    config.query = this.config.probe.query;
    config.timeoutMs = this.config.probe.timeoutMs;
    config.enabled = true;
  }

  #restoreAge(): void {
    if (this.#expiry !== undefined) clearTimeout(this.#expiry);
    this.#expiry = undefined;
    this.pool.healthCheckConfig.maxAgeMs = this.config.probe.maxAgeMs;
  }

  #stopFaults(): void {
    this.#unlock();
    this.#restoreProbes();
    this.#restoreAge();
    // Half the file rounds end with a file fault, so that recovery has stale connections to find.
    const rng = this.rng.fork(3000);
    if (this.config.fileFaults && rng.chance(0.5)) {
      const last = rng.pick(['moveAway', 'replace', ...(this.config.destroyFaults ? ['destroy'] : [])]);
      this.faults[last] = (this.faults[last] ?? 0) + 1;
      this.count('finalFileFault');
      this.#fault(last, rng);
    }
    // The operator puts a database back: the pool never creates a new file in place of the one it
    // opened (a missing file is an outage), so without one there is nothing to recover to.
    if (!this.files.exists()) {
      this.files.replace();
      this.count('fileRestoredForRecovery');
    }
  }

  #setTimer(run: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      try {
        run();
      } catch (error) {
        this.violate(`a test timer failed: ${describe(error)}`);
      }
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  /** Measures how late a 1 ms timer fires: the longest the event loop was blocked. */
  #watchLag(): { stop(): Promise<void> } {
    let running = true;
    const loop = (async () => {
      while (running) {
        const before = now();
        await sleep(1);
        this.maxStallMs = Math.max(this.maxStallMs, now() - before - 1);
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
      },
    };
  }

  // --- after the faults ---------------------------------------------------------------------

  async #recover(): Promise<void> {
    const pool = this.pool;
    const min = this.config.minHealthyConnections;
    // Two monitoring intervals: the cycles the timer would run, run now (each waits for the opens
    // it starts). Opens that failed during the faults back off, up to 5 s between attempts (with
    // jitter): recovery may wait for the next attempt, and then takes one more cycle.
    const healthyNow = () => [...pool.connections()].filter((c) => c.open && c.status !== 'unhealthy' && c.metrics.lastHealthCheckPassed !== false);
    const giveUpAt = now() + OPEN_BACKOFF_MAX_MS + 1000;
    for (let cycle = 0; cycle < 2 || (healthyNow().length < min && now() < giveUpAt); cycle++) {
      if (cycle >= 2) await sleep(50);
      await pool.healthManager.runCycle();
      if (this.config.mode === 'worker') await this.#settleOpenings(3000);
    }
    const healthy = healthyNow();
    if (healthy.length < min) {
      this.violate(`${healthy.length} healthy connection(s) after the faults stopped (two monitoring cycles, and the open back-off's next attempt); minHealthyConnections ${min} ` +
        `(${[...pool.connections()].map((c) => `${c.connectionId}:${c.status}/${String(c.metrics.lastHealthCheckPassed)}`).join(', ')})`);
    }
    // Every connection left reads the live file (those on a renamed, replaced or unlinked one failed a probe).
    const liveGen = this.files.genAt(this.files.path);
    for (const connection of this.config.mode === 'thread' ? pool.connections() : []) {
      const db = connection.connection;
      if (!db.open) continue;
      const rawPrepare = (Object.getPrototypeOf(db) as Database.Database).prepare;
      const row = (rawPrepare.call(db, 'SELECT gen FROM meta') as unknown as { get(): { gen: number } | undefined }).get();
      if (row?.gen !== liveGen) this.violate(`${connection.connectionId} still reads generation ${String(row?.gen)} after recovery; the live file is generation ${String(liveGen)}`);
    }
    // The pool serves again, and a write lands in the live file.
    this.acquireCalls++;
    const id = this.#newWrite('txn');
    try {
      // It may wait for the open back-off's next attempt.
      const row = await pool.transaction((lease) => lease.get<{ gen: number }>(INSERT_RETURNING_GEN, [id, 'txn']), { timeoutMs: OPEN_BACKOFF_MAX_MS + 2000 });
      this.#record(id).gen = row?.gen;
      this.#record(id).outcome = 'committed';
      const live = this.files.genAt(this.files.path);
      if (row?.gen !== live) this.violate(`the first write after recovery went to generation ${String(row?.gen)}; the live file is generation ${String(live)}`);
    } catch (error) {
      this.#record(id).outcome = 'failed';
      this.violate(`the first write after the faults stopped failed: ${describe(error)}`);
      if (this.#classify(error, 'recovery write', this.closeEpoch) === 'acquire') this.acquireFailures++;
    }
    if (this.maxStallMs < this.config.leakDetectionThresholdMs / 2) {
      // Only then is "held longer than the threshold" unambiguous on a loaded machine.
      this.#checkLeakBounds();
    } else {
      this.count('leakBoundsSkipped');
    }
    const slack = 150 + this.maxStallMs;
    if (this.worstLate.byMs > slack) this.violate(`an acquire settled ${this.worstLate.byMs.toFixed(1)} ms after its deadline (slack ${slack.toFixed(0)} ms): ${this.worstLate.label}`);

    const stats = pool.getConnectionStatsSync();
    const metrics = await CollectedMetrics.collect(this.telemetry.reader);
    const name = { 'db.client.connection.pool.name': pool.poolName };
    const idle = metrics.sum('db.client.connection.count', { ...name, 'db.client.connection.state': 'idle' });
    const used = metrics.sum('db.client.connection.count', { ...name, 'db.client.connection.state': 'used' });
    if (idle + used !== stats.poolSize || used !== stats.usedConnections) {
      this.violate(`gauges say idle ${idle} used ${used}; stats say ${stats.poolSize} open, ${stats.usedConnections} used`);
    }
    if (metrics.sum('db.client.connection.pending_requests', name) !== 0) this.violate('pending requests reported with nobody waiting');
    this.#lastGauges = gaugeValues(metrics, pool.poolName);
    if (used !== 0) this.violate(`${used} connection(s) used after every caller released`);
    this.#checkCounters(stats, metrics, 'recovery');
  }

  /** Worker mode: waits until the pool holds at least its minimum, or `ms` passed. */
  async #settleOpenings(ms: number): Promise<void> {
    const min = Math.min(this.config.minHealthyConnections, this.config.poolSize);
    const until = now() + ms;
    while (now() < until && [...this.pool.connections()].filter((c) => c.open).length < min) await sleep(10);
  }

  #checkLeakBounds(): void {
    const threshold = this.config.leakDetectionThresholdMs;
    const leaks = this.pool.getConnectionStatsSync().lifetime.leaks;
    const mustDetect = this.abandonedHoldsMs.filter((ms) => ms >= threshold + 20).length;
    const allHolds = [...this.holdsMs];
    const mayDetect = allHolds.filter((ms) => ms >= threshold - this.maxStallMs - 5).length;
    if (leaks < mustDetect || leaks > mayDetect) {
      this.violate(`the pool reported ${leaks} leak(s); the test held ${mustDetect} lease(s) well past the ${threshold} ms threshold and at most ${mayDetect} past it`);
    }
    this.count('leaksCaused', mustDetect);
  }

  #checkCounters(stats: ConnectionStatsReport, metrics: CollectedMetrics, when: string): void {
    const life = stats.lifetime;
    const name = { 'db.client.connection.pool.name': this.pool.poolName };
    const spans = this.telemetry.spans;
    const expect = (what: string, actual: number, expected: number): void => {
      if (actual !== expected) this.violate(`${when}: ${what} is ${actual}, expected ${expected}`);
    };
    expect('lifetime.timeouts vs the timeouts callers saw', life.timeouts, this.timeoutsSeen);
    expect('db.client.connection.timeouts', metrics.sum('db.client.connection.timeouts', name), life.timeouts);
    expect('sqlite_pool.connection.leaks', metrics.sum('sqlite_pool.connection.leaks', name), life.leaks);
    expect('db.client.connection.create_time count', metrics.histogramCount('db.client.connection.create_time', name), life.created);
    expect('successful sqlite_pool.connect spans', spans.count('sqlite_pool.connect') - spans.failures('sqlite_pool.connect'), life.created);
    for (const reason of CLOSE_REASONS) {
      const where = { ...name, 'sqlite_pool.close.reason': reason };
      expect(`sqlite_pool.connection.closed{${reason}}`, metrics.sum('sqlite_pool.connection.closed', where), life.closed[reason]);
      expect(`sqlite_pool.connection.lifetime{${reason}} count`, metrics.histogramCount('sqlite_pool.connection.lifetime', where), life.closed[reason]);
    }
    expect('sqlite_pool.health_check.duration count', metrics.histogramCount('sqlite_pool.health_check.duration', name), life.healthChecks);
    expect(
      'failed probes in sqlite_pool.health_check.duration',
      metrics.histogramCount('sqlite_pool.health_check.duration', { ...name, 'sqlite_pool.health_check.result': 'failure' }),
      life.healthCheckFailures,
    );
    expect('sqlite_pool.health_check spans', spans.count('sqlite_pool.health_check'), life.healthChecks);
    expect('failed sqlite_pool.health_check spans', spans.failures('sqlite_pool.health_check'), life.healthCheckFailures);
    expect('db.client.connection.wait_time count vs the acquires that succeeded', metrics.histogramCount('db.client.connection.wait_time', name), this.acquireCalls - this.acquireFailures);
    const rate = stats.healthCheckSuccessRate;
    const expectedRate = life.healthChecks === 0 ? 1 : (life.healthChecks - life.healthCheckFailures) / life.healthChecks;
    if (Math.abs(rate - expectedRate) > 1e-9) this.violate(`${when}: healthCheckSuccessRate ${rate}, expected ${expectedRate}`);
    const closed = Object.values(life.closed).reduce((a, b) => a + b, 0);
    expect('connections created minus closed vs open', life.created - closed, stats.poolSize);
    if (this.config.mode === 'thread' && life.created > this.openedHandles.length) {
      this.violate(`${when}: ${life.created} connections created but onConnect ran ${this.openedHandles.length} times`);
    }
  }

  /** Shutdown under load: leases held into close(), some returned during the drain, waiters queued. */
  async #shutdown(): Promise<void> {
    const pool = this.pool;
    const rng = this.rng.fork(2000);
    const heldCount = rng.int(0, this.config.poolSize);
    const held: Held[] = [];
    for (let i = 0; i < heldCount; i++) {
      const h = await this.#acquire(`shutdown#${i}`, 2000);
      if (h === undefined) this.violate(`shutdown#${i}: could not lease a connection after recovery`);
      else held.push(h);
    }
    const waiters = Array.from({ length: rng.int(0, 3) }, (_, i) => {
      const label = `closing-waiter#${i}`;
      this.acquireCalls++;
      return pool.getConnection({ timeoutMs: 5000 }).then(
        (lease) => this.#release(this.#leased(lease, label, this.closeEpoch, false)),
        (error: unknown) => {
          this.acquireFailures++;
          if (!(error instanceof PoolClosedError)) this.violate(`${label}: rejected with ${describe(error)} by close()`);
          this.#classify(error, label, this.closeEpoch);
        },
      );
    });
    const returned = held.splice(0, rng.int(0, held.length));
    const closing = pool.close({ timeoutMs: 30 });
    for (const h of returned) this.#release(h);
    const report = await closing;
    await Promise.all(waiters);
    if (pool.close() !== closing) this.violate('a second close() did not return the first one');
    const forced = report.forcedLeases.map((f) => f.connectionId).sort();
    const expected = held.map((h) => h.lease.connectionId).sort();
    if (forced.join() !== expected.join()) this.violate(`close() forced [${forced.join(', ')}], the test still held [${expected.join(', ')}]`);
    try {
      await pool.getConnection();
      this.violate('getConnection() resolved after close()');
    } catch (error) {
      this.acquireCalls++;
      this.acquireFailures++;
      if (!(error instanceof PoolClosedError)) this.violate(`getConnection() after close() rejected with ${describe(error)}`);
    }
    // Releasing a lease that close() took back is harmless.
    for (const h of held) {
      try {
        this.#release(h);
      } catch (error) {
        this.violate(`releasing a lease after close() threw ${describe(error)}`);
      }
    }
  }

  async #afterClose(): Promise<void> {
    const pool = this.pool;
    const stats = pool.getConnectionStatsSync();
    if (stats.poolSize !== 0 || [...pool.connections()].length !== 0) this.violate(`${stats.poolSize} connection(s) left after close()`);
    const open = this.openedHandles.filter((db) => db.open).length;
    if (open > 0) this.violate(`${open} of ${this.openedHandles.length} better-sqlite3 handles still open after close()`);
    const seenOpen = [...this.seenConnections].filter((c) => c.open).length;
    for (const connection of this.pool.connections()) if (connection.processId !== undefined) this.workerPids.add(connection.processId);
    const alive = [...this.workerPids].filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    if (alive.length > 0) this.violate(`${alive.length} of ${this.workerPids.size} worker processes still alive after close(): ${alive.join(', ')}`);
    if (seenOpen > 0) this.violate(`${seenOpen} leased connection(s) still open after close()`);
    if (telemetryRegistry.pools.has(pool)) this.violate('the pool is still in the telemetry registry after close()');
    // The test's own timers go first; then let cleared timers report their destruction.
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await tick();
    await tick();
    if (this.#pendingTimerIds.size > 0) this.violate(`${this.#pendingTimerIds.size} housekeeper timer(s) still pending after close()`);
    const timeouts = activeTimeouts();
    if (timeouts > this.#timeoutsBefore) this.violate(`${timeouts} active Timeout resources after close(), ${this.#timeoutsBefore} before the round`);

    const metrics = await CollectedMetrics.collect(this.telemetry.reader);
    const name = { 'db.client.connection.pool.name': pool.poolName };
    // The pool is no longer observed: its gauges are reported once more as zeros (the JS metrics
    // SDK keeps re-exporting a cumulative asynchronous series it saw once), never with old values.
    const after = gaugeValues(metrics, pool.poolName);
    if (after !== '' && after !== 'idle=0,used=0') this.violate(`the closed pool's connection gauges read ${after} (before close: ${this.#lastGauges})`);
    const again = gaugeValues(await CollectedMetrics.collect(this.telemetry.reader), pool.poolName);
    if (again !== after) this.violate(`the closed pool's connection gauges changed from ${after} to ${again}`);
    this.#checkCounters(stats, metrics, 'after close');
    const life = stats.lifetime;
    const closed = Object.values(life.closed).reduce((a, b) => a + b, 0);
    if (closed !== life.created) this.violate(`${life.created} connections created, ${closed} closed`);
    const useTimes = metrics.histogramCount('db.client.connection.use_time', name);
    if (useTimes !== this.acquireCalls - this.acquireFailures) this.violate(`${useTimes} use_time recordings for ${this.acquireCalls - this.acquireFailures} leases`);
  }

  /** Every committed write is in the file of its generation; nothing else is anywhere. */
  #checkWrites(): void {
    const contents = this.files.readAll();
    const found = new Map<string, number>();
    const gens = new Set<number>();
    for (const file of contents) {
      const name = path.basename(file.file);
      if (file.gen !== undefined) {
        if (gens.has(file.gen)) this.violate(`generation ${file.gen} exists twice (${name})`);
        gens.add(file.gen);
      }
      if (file.expectedGen !== undefined && file.gen !== file.expectedGen) this.violate(`${name} should be generation ${file.expectedGen}, its meta says ${String(file.gen)}`);
      if (file.gen !== undefined && this.files.destroyed.has(file.gen)) this.violate(`${name} holds destroyed generation ${file.gen}`);
      for (const row of file.rows) {
        if (row.gen !== file.gen) this.violate(`${row.id} tagged generation ${row.gen} is in ${name} (generation ${String(file.gen)})`);
        if (found.has(row.id)) this.violate(`${row.id} is in two files`);
        found.set(row.id, row.gen);
        const record = this.ledger.get(row.id);
        if (record === undefined) this.violate(`${row.id} is in ${name} but was never written`);
        else if (record.outcome !== 'committed') this.violate(`${row.id} (${record.kind}) is in ${name} but its write ${record.outcome === 'failed' ? 'failed' : 'never finished'}`);
        else if (record.gen !== undefined && record.gen !== row.gen) this.violate(`${row.id} committed to generation ${record.gen} but is in generation ${row.gen}`);
      }
    }
    let committed = 0;
    let lostWithFile = 0;
    for (const [id, record] of this.ledger) {
      if (record.outcome === 'pending') this.violate(`${id} (${record.kind}) never finished`);
      if (record.outcome !== 'committed') continue;
      committed++;
      if (found.has(id)) continue;
      if (record.gen !== undefined && this.files.destroyed.has(record.gen)) {
        lostWithFile++;
        continue;
      }
      if (record.gen === undefined && this.files.destroyed.size > 0) {
        lostWithFile++; // a shortcut write does not say which file it went to; its file may have been unlinked
        continue;
      }
      this.violate(`${id} (${record.kind}, generation ${String(record.gen)}) committed but is in no file`);
    }
    this.count('committedWrites', committed);
    this.count('lostWithDestroyedFile', lostWithFile);
    this.count('filesChecked', contents.length);
  }
}

interface Held {
  readonly lease: Lease;
  readonly label: string;
  readonly since: number;
  /** The connection's id (unique in the pool). */
  readonly id: string;
}

/** The pool's connection gauges, as a comparable string. */
function gaugeValues(metrics: CollectedMetrics, poolName: string): string {
  return metrics
    .points('db.client.connection.count', { 'db.client.connection.pool.name': poolName })
    .map((point) => `${String(point.attributes['db.client.connection.state'])}=${String(point.value)}`)
    .sort()
    .join(',');
}

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}${'code' in error ? ` ${String(error.code)}` : ''}: ${error.message}`;
  return String(error);
}
