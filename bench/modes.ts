/**
 * In-thread versus worker mode, side by side in one run (issue 6, "Performance"):
 *   (a) a point read by primary key, `SELECT * FROM users WHERE id = ?`;
 *   (b) a CPU-heavy read, an aggregate over the whole 10,000-row table (~1-2 ms in SQLite);
 * each at 1 and at 8 concurrent callers. Every caller runs `await db.get(sql, params)` in a loop.
 * Both pools have `poolSize` connections (8 by default; in worker mode that is 8 processes), all
 * opened before measuring, on a fresh WAL file database in /dev/shm (bench/lib/db.ts).
 *
 *   npx tsx bench/modes.ts [--quick] [--rounds N] [--round-ms N] [--warmup-ms N] [--pool-size N]
 *                          [--dir DIR] [--heavy-sql SQL] [--default-limits] [--from-source]
 * (full: 24 rounds × 500 ms after a warm-up round of 1000 ms runs, ~2.5 min; --quick: 5 × 150 ms
 * after 400 ms runs, ~17 s.) The report (Markdown) goes to stdout, progress to stderr.
 *
 * How it measures:
 * - The pool is imported from JavaScript built into a temp dir (`tsc -p tsconfig.build.json
 *   --outDir <tmp>`), so that worker processes start from plain JS as they do for users; from
 *   TypeScript source (`--from-source`, or if the build fails) each worker compiles with tsx at
 *   start, which only slows the start: every cell gets an unrecorded warm-up round first anyway.
 * - Rounds alternate the modes: every round runs each (workload, callers) cell in-thread and in
 *   worker mode, one right after the other, the order flipping from cell to cell and round to
 *   round. The machine's speed drifts by ~20% over seconds, so the worker/thread ratio is taken
 *   per round (two runs seconds apart) and the median over rounds is reported with its IQR.
 * - A round of a cell runs its callers until `--round-ms` has passed; ops/s = operations /
 *   wall time until the last caller's last operation returned. Every operation is timed by its
 *   caller (one `performance.now()` per operation, ~0.1 µs), so mean and p99 are per operation
 *   as the caller sees it, queueing for a connection or for the event loop included.
 * - CPU: the main process's (process.cpuUsage, all its threads) and the worker processes' (from
 *   /proc/<pid>/stat, 10 ms ticks) over the measured rounds, in cores (CPU seconds / wall seconds).
 * - Health limits: `maxUsage: Infinity` in both modes (`--default-limits` restores the default
 *   1000): with the default every connection is retired after 1000 statements, which in worker
 *   mode means a new process (tens of ms) every 1000 statements per connection; that would
 *   measure process start-up, not the mode. Probes run as configured otherwise (5 s cache).
 * - References in the same rounds, without the pool (helper processes of plain better-sqlite3):
 *   the bare IPC round trip of a point read's response, and the heavy read in `poolSize`
 *   processes at once against one alone: what this shared 2-core machine allowed at the time.
 * - Nothing is left behind: both pools are closed (close() waits for the worker processes to
 *   exit), the helpers killed, the database and the build removed, also on SIGINT/SIGTERM; the
 *   run ends by checking that this process has no child left.
 */
import { execFileSync, spawn, type ChildProcess, type Serializable } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROWS, SQL, argumentTables, createFixture, defaultBaseDir, removeFixture } from './lib/db.js';
import { describeEnvironment, fileSystemOf } from './lib/environment.js';

type Lib = typeof import('../src/index.js');
type Pool = InstanceType<Lib['DatabaseManager']>;
type Mode = 'thread' | 'worker';
type Workload = 'point' | 'heavy';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEAVY_SQL_DEFAULT =
  "SELECT count(*), sum(score), avg(length(email)), max(upper(name)), sum(instr(email, '9')) FROM users";

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
function numberOption(name: string, fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} expects a positive number, got ${raw}`);
  return value;
}
const quick = argv.includes('--quick');
const ROUNDS = Math.round(numberOption('--rounds', quick ? 5 : 24));
const ROUND_MS = numberOption('--round-ms', quick ? 150 : 500);
/** Length of each run of the warm-up round: every worker process warms up its own JIT and IPC path. */
const WARMUP_MS = numberOption('--warmup-ms', quick ? 400 : 1000);
const POOL_SIZE = Math.round(numberOption('--pool-size', 8));
const CALLERS = [1, 8] as const;
const BASE_DIR = option('--dir') ?? defaultBaseDir();
const HEAVY_SQL = option('--heavy-sql') ?? HEAVY_SQL_DEFAULT;
const DEFAULT_LIMITS = argv.includes('--default-limits');
const FROM_SOURCE = argv.includes('--from-source');
const MODES: readonly Mode[] = ['thread', 'worker'];
const WORKLOADS: readonly Workload[] = ['point', 'heavy'];

function progress(message: string): void {
  process.stderr.write(`  modes: ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Loading the pool: built JavaScript in a temp dir, or the TypeScript source

interface Loaded {
  readonly lib: Lib;
  readonly how: string;
  readonly buildDir: string | undefined;
}

async function loadPool(): Promise<Loaded> {
  if (FROM_SOURCE) return { lib: await import('../src/index.js'), how: 'TypeScript source under tsx (--from-source)', buildDir: undefined };
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-sqlite-pool-modes-'));
  const outDir = path.join(buildDir, 'dist');
  const started = performance.now();
  let note = '';
  try {
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir,
        '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    // tsc emits despite type errors (someone's work in progress in src/); use the output if it is all there.
    const stdout = (error as { stdout?: unknown }).stdout;
    const output = (typeof stdout === 'string' || Buffer.isBuffer(stdout) ? stdout.toString() : '').split('\n').filter(Boolean);
    note = `; tsc reported ${output.length} error line(s), first: ${output[0] ?? '?'}`;
  }
  const entry = path.join(outDir, 'index.js');
  // Worker mode forks the built `backend/process-main.js` (src/backend/process-channel.ts picks
  // `./process-main.js` beside itself when it runs as JavaScript, with no loader).
  const child = path.join(outDir, 'backend', 'process-main.js');
  if (!fs.existsSync(entry) || !fs.existsSync(child)) {
    fs.rmSync(buildDir, { recursive: true, force: true });
    progress(`build failed${note}; falling back to the TypeScript source`);
    return { lib: await import('../src/index.js'), how: `TypeScript source under tsx (the build failed${note})`, buildDir: undefined };
  }
  // The built files import better-sqlite3 and @opentelemetry/api: resolve them from the project.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(buildDir, 'node_modules'), 'dir');
  const lib = (await import(pathToFileURL(entry).href)) as Lib;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  return { lib, how: `built JavaScript (\`tsc -p tsconfig.build.json --outDir <os tmpdir>/…\`, ${seconds} s, removed afterwards)${note}`, buildDir };
}

// ---------------------------------------------------------------------------------------------
// CPU and memory of the worker processes (Linux /proc)

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

function workerPids(pool: Pool): number[] {
  const pids: number[] = [];
  for (const connection of pool.connections()) {
    const pid = connection.processId;
    if (pid !== undefined) pids.push(pid);
  }
  return pids;
}

/** utime + stime of a process in seconds, or undefined once it is gone. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function rssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function cpuSecondsOf(pids: readonly number[]): Map<number, number> {
  const result = new Map<number, number>();
  for (const pid of pids) {
    const seconds = processCpuSeconds(pid);
    if (seconds !== undefined) result.set(pid, seconds);
  }
  return result;
}

function liveChildren(): number[] {
  try {
    const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
    return children === '' ? [] : children.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Cell {
  readonly workload: Workload;
  readonly callers: number;
}

interface RoundResult {
  readonly ops: number;
  readonly wallMs: number;
  readonly mainCpuS: number;
  readonly workerCpuS: number;
}

class Series {
  readonly rounds: RoundResult[] = [];
  latencies = new Float64Array(1 << 16);
  count = 0;
  push(ms: number): void {
    if (this.count === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.count++] = ms;
  }
}

const { ids } = argumentTables();

function sqlOf(workload: Workload): string {
  return workload === 'point' ? SQL.point : HEAVY_SQL;
}

/** One round of one cell on one pool: `callers` loops of `await pool.get(...)` until the deadline. */
async function runRound(pool: Pool, cell: Cell, roundMs: number, series: Series | undefined, argCursor: { i: number }): Promise<RoundResult> {
  const sql = sqlOf(cell.workload);
  const point = cell.workload === 'point';
  const pids = pool.mode === 'worker' ? workerPids(pool) : [];
  const workerCpuBefore = cpuSecondsOf(pids);
  const mainCpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + roundMs;
  let ops = 0;
  const caller = async (): Promise<void> => {
    let start = performance.now();
    while (start < deadline) {
      const i = argCursor.i++ & 0xffff;
      if (point) await pool.get(sql, [ids[i]]);
      else await pool.get(sql);
      const end = performance.now();
      series?.push(end - start);
      ops++;
      start = end;
    }
  };
  await Promise.all(Array.from({ length: cell.callers }, caller));
  const wallMs = performance.now() - started;
  const mainCpu = process.cpuUsage(mainCpuBefore);
  let workerCpuS = 0;
  for (const [pid, seconds] of cpuSecondsOf(pids)) workerCpuS += seconds - (workerCpuBefore.get(pid) ?? seconds);
  return { ops, wallMs, mainCpuS: (mainCpu.user + mainCpu.system) / 1e6, workerCpuS };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// References without the pool, in helper processes of plain better-sqlite3:
// - the bare IPC round trip: a message the size of a point read's response, sent to a forked
//   process (advanced serialization, like worker mode) and echoed back;
// - the machine's parallel speedup at the moment: the heavy read in a tight loop in one helper,
//   then in `poolSize` helpers at once (as many processes as worker mode has, since under the
//   other sessions' load the scheduler's share grows with the number of runnable processes); the
//   ratio of the totals is about the most worker mode could get on this machine at that time.

const HELPER_SOURCE = `
const Database = require('better-sqlite3');
const db = new Database(process.env.MODES_FILENAME, { readonly: true });
const heavy = db.prepare(process.env.MODES_HEAVY_SQL);
process.on('message', (message) => {
  if (message.op === 'echo') return void process.send(message);
  if (message.op === 'loop') {
    const deadline = performance.now() + message.ms;
    let ops = 0;
    while (performance.now() < deadline) { heavy.get(); ops++; }
    process.send({ op: 'loop', ops });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ op: 'ready' });
`;

class Helper {
  readonly #child: ChildProcess;
  readonly ready: Promise<void>;
  #waiting: { resolve: (message: { op: string; ops?: number }) => void; reject: (error: Error) => void } | undefined;

  constructor(filename: string) {
    this.#child = spawn(process.execPath, ['-e', HELPER_SOURCE], {
      cwd: ROOT, // resolves better-sqlite3 from the project
      env: { ...process.env, MODES_FILENAME: filename, MODES_HEAVY_SQL: HEAVY_SQL },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.#child.on('message', (message: { op: string; ops?: number }) => this.#waiting?.resolve(message));
    this.#child.on('exit', (code, signal) => this.#waiting?.reject(new Error(`a helper process exited (${signal ?? code})`)));
    this.ready = this.#next().then(() => undefined);
  }

  #next(): Promise<{ op: string; ops?: number }> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  async loop(ms: number): Promise<number> {
    const reply = this.#next();
    this.#child.send({ op: 'loop', ms });
    return (await reply).ops ?? 0;
  }

  echo(message: Serializable): Promise<unknown> {
    const reply = this.#next();
    this.#child.send(message);
    return reply;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }
}

/** What a worker sends back for a point read (protocol.ts), to echo. */
const ECHO_MESSAGE = {
  op: 'echo', id: 1, ok: true, durationMs: 0.004, open: true, inTransaction: false,
  result: { id: 4242, name: 'user 4242', email: 'user4242@example.com', score: 512.34 },
};

async function echoRound(helper: Helper, roundMs: number, series: Series | undefined): Promise<RoundResult> {
  const started = performance.now();
  const deadline = started + roundMs;
  let ops = 0;
  let start = started;
  while (start < deadline) {
    await helper.echo(ECHO_MESSAGE);
    const end = performance.now();
    series?.push(end - start);
    ops++;
    start = end;
  }
  return { ops, wallMs: performance.now() - started, mainCpuS: 0, workerCpuS: 0 };
}

/** Heavy reads done by one helper alone, then by every helper at once, each for roundMs; in ops/s. */
async function ceilingRound(helpers: readonly Helper[], roundMs: number, reverse: boolean): Promise<{ one: number; all: number }> {
  const one = async (): Promise<number> => ((await helpers[0]!.loop(roundMs)) / roundMs) * 1000;
  const all = async (): Promise<number> => {
    const counts = await Promise.all(helpers.map((helper) => helper.loop(roundMs)));
    return (counts.reduce((a, b) => a + b, 0) / roundMs) * 1000;
  };
  if (reverse) {
    const a = await all();
    return { one: await one(), all: a };
  }
  const o = await one();
  return { one: o, all: await all() };
}

// ---------------------------------------------------------------------------------------------
// Statistics and report

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Summary {
  readonly opsPerSec: number;
  readonly meanUs: number;
  readonly p99Us: number;
  readonly ops: number;
  readonly mainCores: number;
  readonly workerCores: number;
}

function summarize(series: Series): Summary {
  let ops = 0;
  let wallMs = 0;
  let mainCpuS = 0;
  let workerCpuS = 0;
  for (const r of series.rounds) {
    ops += r.ops;
    wallMs += r.wallMs;
    mainCpuS += r.mainCpuS;
    workerCpuS += r.workerCpuS;
  }
  const latencies = series.latencies.subarray(0, series.count).slice().sort();
  let sum = 0;
  for (const value of latencies) sum += value;
  return {
    opsPerSec: (ops / wallMs) * 1000,
    meanUs: (sum / latencies.length) * 1000,
    p99Us: percentile(latencies, 99) * 1000,
    ops,
    mainCores: mainCpuS / (wallMs / 1000),
    workerCores: workerCpuS / (wallMs / 1000),
  };
}

function formatNumber(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function formatUs(us: number): string {
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  return `${us.toFixed(1)} µs`;
}

function formatRatio(sorted: ArrayLike<number>): string {
  return `**${quantile(sorted, 0.5).toFixed(2)}x** (${quantile(sorted, 0.25).toFixed(2)}–${quantile(sorted, 0.75).toFixed(2)})`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runStarted = performance.now();
  const loadBefore = os.loadavg();
  const env = describeEnvironment(ROOT);
  progress(`building the pool into a temp dir (${FROM_SOURCE ? 'skipped: --from-source' : 'tsc'})`);
  const loaded = await loadPool();
  const { DatabaseManager } = loaded.lib;
  const fixture = createFixture(BASE_DIR);
  const pools = new Map<Mode, Pool>();
  const helpers: Helper[] = [];
  let interrupted = false;

  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([...pools.values()].map((pool) => pool.close()));
    await Promise.allSettled(helpers.map((helper) => helper.close()));
    pools.clear();
    helpers.length = 0;
    removeFixture(fixture.dir);
    if (loaded.buildDir !== undefined) fs.rmSync(loaded.buildDir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: closing the pools`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const startupMs = new Map<Mode, number>();
    for (const mode of MODES) {
      const pool = new DatabaseManager({
        filename: fixture.filename,
        mode,
        poolSize: POOL_SIZE,
        // The harness's pragmas: WAL and SQLite's defaults otherwise (reads only here).
        pragmas: { journal_mode: 'WAL' },
        healthCheckConfig: { minHealthyConnections: POOL_SIZE, ...(DEFAULT_LIMITS ? {} : { maxUsage: Infinity }) },
      });
      pools.set(mode, pool);
      const t0 = performance.now();
      await pool.initialize();
      startupMs.set(mode, performance.now() - t0);
    }
    const threadPool = pools.get('thread')!;
    const workerPool = pools.get('worker')!;

    // Same answers in both modes, and the heavy read's cost in SQLite alone (one in-thread call).
    for (const workload of WORKLOADS) {
      const params = workload === 'point' ? [ids[0]] : [];
      const a = await threadPool.get(sqlOf(workload), params);
      const b = await workerPool.get(sqlOf(workload), params);
      if (JSON.stringify(a) !== JSON.stringify(b) || a === undefined) {
        throw new Error(`${workload}: the modes disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
    const workerRss = workerPids(workerPool).map(rssMiB).filter((v): v is number => v !== undefined);
    const createdBefore = new Map(MODES.map((mode) => [mode, pools.get(mode)!.getConnectionStatsSync().lifetime.created]));

    const cells: Cell[] = WORKLOADS.flatMap((workload) => CALLERS.map((callers) => ({ workload, callers })));
    const series = new Map<string, Series>();
    const key = (cell: Cell, mode: Mode): string => `${cell.workload}/${cell.callers}/${mode}`;
    for (const cell of cells) for (const mode of MODES) series.set(key(cell, mode), new Series());
    const cursor = { i: 0 };
    const echoSeries = new Series();
    const ceiling: { one: number; all: number }[] = [];
    for (let i = 0; i < POOL_SIZE; i++) helpers.push(new Helper(fixture.filename));
    await Promise.all(helpers.map((helper) => helper.ready));

    // Round 0 warms up every cell in both modes (JIT, statement caches, first probes), unrecorded.
    progress(`${ROUNDS} rounds × (${cells.length} cells × 2 modes + 3 reference runs) × ${ROUND_MS} ms, after a warm-up round of ${WARMUP_MS} ms runs`);
    for (let round = 0; round <= ROUNDS; round++) {
      if (interrupted) return;
      for (const [c, cell] of cells.entries()) {
        const order: readonly Mode[] = (round + c) % 2 === 0 ? MODES : [...MODES].reverse();
        for (const mode of order) {
          const target = round === 0 ? undefined : series.get(key(cell, mode))!;
          const result = await runRound(pools.get(mode)!, cell, round === 0 ? WARMUP_MS : ROUND_MS, target, cursor);
          target?.rounds.push(result);
          await pause(5); // let timers, probes and IPC settle between rounds
        }
      }
      // The references: bare IPC round trip, and the machine's speedup from a second process.
      const echo = await echoRound(helpers[0]!, round === 0 ? WARMUP_MS : ROUND_MS, round === 0 ? undefined : echoSeries);
      if (round > 0) echoSeries.rounds.push(echo);
      await pause(5);
      const c = await ceilingRound(helpers, round === 0 ? WARMUP_MS : ROUND_MS, round % 2 === 1);
      if (round > 0) ceiling.push(c);
      await pause(5);
      if (round > 0 && (round % 5 === 0 || round === ROUNDS)) progress(`round ${round}/${ROUNDS}`);
    }
    const replaced = MODES.map((mode) => `${mode} ${pools.get(mode)!.getConnectionStatsSync().lifetime.created - createdBefore.get(mode)!}`).join(', ');

    // ---- report
    const loadAfter = os.loadavg();
    const out: string[] = [];
    const load = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');
    out.push('## Thread vs worker mode (bench/modes.ts)', '');
    out.push(`- Command: \`npx tsx bench/modes.ts${argv.length ? ` ${argv.join(' ')}` : ''}\`, ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
    out.push(`- Machine: ${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB; ${env.os}; load average ${load(loadBefore)} at the start, ${load(loadAfter)} at the end`);
    out.push(`- Node ${env.node}; better-sqlite3 ${env.packages['better-sqlite3']}; otel-sqlite-pool ${env.packages['otel-sqlite-pool']} at ${env.commit}, loaded from ${loaded.how}`);
    out.push(`- Database: fresh file, WAL, ${ROWS.toLocaleString('en-US')}-row \`users\`, on ${BASE_DIR} (${fileSystemOf(BASE_DIR)}); pragmas \`{ journal_mode: 'WAL' }\``);
    out.push(`- Pools: poolSize ${POOL_SIZE} in each mode, all connections opened before measuring (minHealthyConnections ${POOL_SIZE}); ${DEFAULT_LIMITS ? 'default health limits (maxUsage 1000)' : 'maxUsage Infinity, other health settings default'}. Start-up: thread ${startupMs.get('thread')!.toFixed(0)} ms, worker ${startupMs.get('worker')!.toFixed(0)} ms for ${POOL_SIZE} processes; worker RSS ${workerRss.length ? `${Math.min(...workerRss).toFixed(0)}–${Math.max(...workerRss).toFixed(0)} MiB each, ${workerRss.reduce((a, b) => a + b, 0).toFixed(0)} MiB in all` : 'unknown'}`);
    out.push(`- Rounds: ${ROUNDS} × ${ROUND_MS} ms per cell and mode, modes alternating, after one unrecorded warm-up round (${WARMUP_MS} ms per cell and mode); connections opened during the measurement: ${replaced}`);
    out.push(`- Point read: \`${SQL.point}\`; heavy read: \`${HEAVY_SQL}\``);
    out.push('');
    out.push('| workload | callers | mode | ops/s | mean | p99 | worker/thread ops/s, median over rounds (IQR) | CPU, main process | CPU, workers |');
    out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|');
    const ratios = new Map<string, Float64Array>();
    const summaries = new Map<string, Summary>();
    for (const cell of cells) {
      const thread = series.get(key(cell, 'thread'))!;
      const worker = series.get(key(cell, 'worker'))!;
      const perRound = Float64Array.from(worker.rounds.map((w, i) => (w.ops / w.wallMs) / (thread.rounds[i]!.ops / thread.rounds[i]!.wallMs))).sort();
      ratios.set(`${cell.workload}/${cell.callers}`, perRound);
      for (const mode of MODES) {
        const s = summarize(series.get(key(cell, mode))!);
        summaries.set(key(cell, mode), s);
        out.push(
          `| ${cell.workload === 'point' ? 'point read' : 'heavy read'} | ${cell.callers} | ${mode} | ${formatNumber(s.opsPerSec)} | ${formatUs(s.meanUs)} | ${formatUs(s.p99Us)} | ${mode === 'worker' ? formatRatio(perRound) : ''} | ${s.mainCores.toFixed(2)} cores | ${mode === 'worker' ? `${s.workerCores.toFixed(2)} cores` : '—'} |`,
        );
      }
    }
    const heavy8 = quantile(ratios.get('heavy/8')!, 0.5);
    const pointThread = summaries.get('point/1/thread')!;
    const pointWorker = summaries.get('point/1/worker')!;
    const pointRounds = (mode: Mode): RoundResult[] => series.get(`point/1/${mode}`)!.rounds;
    const perRoundOverhead = Float64Array.from(
      pointRounds('worker').map((w, i) => (w.wallMs / w.ops - pointRounds('thread')[i]!.wallMs / pointRounds('thread')[i]!.ops) * 1000),
    ).sort();
    const heavyThread1 = summaries.get('heavy/1/thread')!;
    const echo = summarize(echoSeries);
    const speedups = Float64Array.from(ceiling.map((c) => c.all / c.one)).sort();
    out.push('');
    out.push('| reference, no pool (helper processes running plain better-sqlite3) | result |');
    out.push('|---|---:|');
    out.push(`| bare IPC round trip: a point read's response message echoed by a forked process (advanced serialization), 1 caller | mean ${formatUs(echo.meanUs)}, p99 ${formatUs(echo.p99Us)} (${formatNumber(echo.opsPerSec)}/s) |`);
    out.push(`| heavy read in a tight loop, no IPC: ${POOL_SIZE} processes at once / 1 process alone, ops/s (the parallel speedup this machine gave at the time: about worker mode's ceiling) | ${formatRatio(speedups)} (1: ${formatNumber(quantile(Float64Array.from(ceiling.map((c) => c.one)).sort(), 0.5))}/s, ${POOL_SIZE}: ${formatNumber(quantile(Float64Array.from(ceiling.map((c) => c.all)).sort(), 0.5))}/s) |`);
    out.push('');
    const heavy8Rounds = ratios.get('heavy/8')!;
    out.push(`- **Heavy read, ${CALLERS[1]} callers: worker mode reaches ${heavy8.toFixed(2)}x the in-thread throughput** (median over rounds; goal ≥ 1.8x: ${heavy8 >= 1.8 ? '**met**' : '**not met**'}; rounds ranged ${heavy8Rounds[0]!.toFixed(2)}–${heavy8Rounds[heavy8Rounds.length - 1]!.toFixed(2)}x; ${POOL_SIZE} plain processes got ${quantile(speedups, 0.5).toFixed(2)}x over 1 in the same run).`);
    out.push(`- **Round-trip overhead of worker mode on a point read: ${(pointWorker.meanUs - pointThread.meanUs).toFixed(1)} µs** (1 caller: mean ${formatUs(pointWorker.meanUs)} in worker mode − ${formatUs(pointThread.meanUs)} in-thread; median over rounds of the same difference: ${quantile(perRoundOverhead, 0.5).toFixed(1)} µs).`);
    out.push(`- One heavy read costs ${formatUs(heavyThread1.meanUs)} in-thread at 1 caller. The ceiling is ${env.cores}x on ${env.cores} idle cores, less the main process's share of every round trip; the load average says how idle they were.`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const left = liveChildren();
    if (left.length > 0) {
      progress(`child processes still alive after close(): ${left.join(', ')}`);
      process.exitCode = 1;
    } else progress('pools closed, no child process left');
  }
}

await main();
