/**
 * What health checking costs, next to the guide's claims:
 *   (a) CPU time of one monitoring cycle over 100 idle connections at the default config
 *       (`db.healthManager.runCycle(db)`, the same function the 30 s timer runs: 20 batches of 5
 *       forced probes), and the share of one core that is at intervalMs = 30 s (guide: under 1%);
 *   (b) one probe (`validateHealth({ force: true })`), and a borrow-time probe as the caller sees
 *       it: acquire+release with cacheDurationMs 0 (every borrow probes) minus the same with the
 *       default 5 s cache, timed in alternation;
 *   (a') the cycle of (a) again with SqlitePoolInstrumentation registered (metrics and traces, real
 *       SDK providers), last, so its context manager and providers touch nothing else, with the
 *       health-check spans counted;
 *   (c) JS heap per pooled connection added on top of better-sqlite3 (guide: ~300 bytes): the
 *       heap slope from 10 to 100 connections of ours minus the same slope for plain better-sqlite3
 *       Database objects on the same file, after forced GC.
 *
 *   node --expose-gc --import tsx bench/health-cost.ts [--quick] [--dir DIR] [--emit]
 * (`tsx bench/health-cost.ts` works too: GC is then exposed at run time through v8 flags.)
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import Database from 'better-sqlite3';
import { DatabaseManager, SqlitePoolInstrumentation } from '../src/index.js';
import { createFixture, defaultBaseDir, removeFixture } from './lib/db.js';
import { interleave, type Side } from './lib/measure.js';
import { diff, snapshot, startMetrics, startTracing } from './lib/telemetry.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const emit = args.includes('--emit');
const dirIndex = args.indexOf('--dir');
const baseDir = dirIndex >= 0 && args[dirIndex + 1] ? args[dirIndex + 1]! : defaultBaseDir();

const CONNECTIONS = 100;
const GUIDE_INTERVAL_MS = 30_000;

function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
const gc = exposeGc();

async function settledHeap(): Promise<{ heap: number; external: number }> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function progress(message: string): void {
  process.stderr.write(`  health-cost: ${message}\n`);
}

// --- (a) one monitoring cycle over 100 idle connections ------------------------------------

interface CycleCost {
  cycles: number;
  probedPerCycle: number;
  cpuMsPerCycle: number;
  cpuMsPerCycleMax: number;
  /** Every cycle's CPU ms, in order. */
  cpuMs: number[];
  wallMsPerCycle: number;
  coreShareAtInterval: number;
  probeUs: number;
}

async function monitoringCycle(filename: string, probeCount = quick ? 2_000 : 20_000): Promise<CycleCost> {
  const db = new DatabaseManager({
    filename,
    poolSize: CONNECTIONS,
    healthCheckConfig: { minHealthyConnections: CONNECTIONS },
  });
  await db.initialize();
  try {
    // The timer would run the same cycle 30 s from now; run it by hand instead.
    await db.healthManager.stopMonitoring();
    const cycles = quick ? 20 : 100;
    for (let i = 0; i < 5; i++) await db.healthManager.runCycle(db);
    const cpu: number[] = [];
    const wall: number[] = [];
    let probed = 0;
    for (let i = 0; i < cycles; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const result = await db.healthManager.runCycle(db);
      const t1 = process.hrtime.bigint();
      const c1 = process.cpuUsage(c0);
      cpu.push((c1.user + c1.system) / 1000);
      wall.push(Number(t1 - t0) / 1e6);
      probed += result.probed;
      if (result.failed > 0) throw new Error(`a monitoring cycle failed ${result.failed} probes on a healthy database`);
    }
    // One probe, forced, on an idle connection (what the cycle does 100 times).
    const [connection] = db.connections();
    if (!connection) throw new Error('the pool has no connection');
    const probes = probeCount;
    for (let i = 0; i < Math.min(500, probes); i++) await connection.validateHealth({ force: true });
    const p0 = process.hrtime.bigint();
    for (let i = 0; i < probes; i++) await connection.validateHealth({ force: true });
    const probeUs = probes > 0 ? Number(process.hrtime.bigint() - p0) / probes / 1000 : NaN;

    const cpuMsPerCycle = cpu.reduce((a, b) => a + b, 0) / cycles;
    return {
      cycles,
      probedPerCycle: probed / cycles,
      cpuMsPerCycle,
      cpuMsPerCycleMax: Math.max(...cpu),
      cpuMs: cpu.map((c) => Math.round(c * 1000) / 1000),
      wallMsPerCycle: wall.reduce((a, b) => a + b, 0) / cycles,
      coreShareAtInterval: cpuMsPerCycle / GUIDE_INTERVAL_MS,
      probeUs,
    };
  } finally {
    await db.close();
  }
}

// --- (b) a borrow-time probe as the caller sees it -----------------------------------------

interface BorrowCost {
  cachedAcquireUs: number;
  probingAcquireUs: number;
  borrowProbeUs: number;
  ratio: number;
}

async function borrowProbe(filename: string): Promise<BorrowCost> {
  const open = async (cacheDurationMs?: number) => {
    const db = new DatabaseManager({
      filename,
      poolSize: 1,
      healthCheckConfig: { minHealthyConnections: 1, ...(cacheDurationMs !== undefined && { cacheDurationMs }) },
    });
    await db.initialize();
    return db;
  };
  const cached = await open();
  const probing = await open(0);
  try {
    const side = (db: DatabaseManager): Side => ({
      sync: false,
      batch: 16,
      run: async (_s, c) => {
        for (let i = 0; i < c; i++) (await db.getConnection()).release();
      },
    });
    const m = await interleave(side(cached), side(probing), {
      rounds: quick ? 4 : 20,
      roundMs: quick ? 40 : 100,
      warmupMs: quick ? 200 : 1000,
    });
    const probeChecks = [...probing.connections()][0]?.metrics.healthCheckCount ?? 0;
    if (probeChecks < m.contender.ops) {
      throw new Error(`cacheDurationMs 0 probed ${probeChecks} times for ${m.contender.ops} borrows: not every borrow probed`);
    }
    return {
      cachedAcquireUs: m.raw.meanNs / 1000,
      probingAcquireUs: m.contender.meanNs / 1000,
      borrowProbeUs: (m.contender.meanNs - m.raw.meanNs) / 1000,
      ratio: m.ratio.median,
    };
  } finally {
    await cached.close();
    await probing.close();
  }
}

// --- (c) heap per pooled connection ----------------------------------------------------------

interface MemoryCost {
  rawBytesPerConnection: number;
  oursBytesPerConnection: number;
  addedBytesPerConnection: number;
  addedBytesPerConnectionSamples: number[];
  oursFixedBytes: number;
}

async function heapOfRaw(filename: string, n: number): Promise<number> {
  const before = await settledHeap();
  const dbs: Database.Database[] = [];
  for (let i = 0; i < n; i++) dbs.push(new Database(filename));
  const after = await settledHeap();
  for (const d of dbs) d.close();
  return after.heap - before.heap;
}

async function heapOfOurs(filename: string, n: number): Promise<number> {
  const before = await settledHeap();
  const db = new DatabaseManager({ filename, poolSize: n, healthCheckConfig: { minHealthyConnections: n } });
  await db.initialize();
  const after = await settledHeap();
  if ([...db.connections()].length !== n) throw new Error(`expected ${n} open connections`);
  await db.close();
  return after.heap - before.heap;
}

async function memory(filename: string): Promise<MemoryCost> {
  const small = 10;
  const repeats = quick ? 3 : 7;
  // Warm both code paths so the first measurement does not pay for compiled code.
  for (const n of [small, CONNECTIONS]) {
    await heapOfRaw(filename, n);
    await heapOfOurs(filename, n);
  }
  const raw: number[] = [];
  const ours: number[] = [];
  const fixed: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const r10 = await heapOfRaw(filename, small);
    const r100 = await heapOfRaw(filename, CONNECTIONS);
    const o10 = await heapOfOurs(filename, small);
    const o100 = await heapOfOurs(filename, CONNECTIONS);
    const rawSlope = (r100 - r10) / (CONNECTIONS - small);
    const oursSlope = (o100 - o10) / (CONNECTIONS - small);
    raw.push(rawSlope);
    ours.push(oursSlope);
    fixed.push(o10 - small * oursSlope);
  }
  const added = ours.map((o, i) => o - raw[i]!);
  return {
    rawBytesPerConnection: median(raw),
    oursBytesPerConnection: median(ours),
    addedBytesPerConnection: median(added),
    addedBytesPerConnectionSamples: added.map((a) => Math.round(a)),
    oursFixedBytes: median(fixed),
  };
}

// --- report ------------------------------------------------------------------------------------

const fixture = createFixture(baseDir);
try {
  progress('monitoring cycles over 100 idle connections');
  const cycle = await monitoringCycle(fixture.filename);
  progress('borrow-time probe');
  const borrow = await borrowProbe(fixture.filename);
  progress('heap per connection');
  const mem = await memory(fixture.filename);
  progress('monitoring cycles with metrics and traces registered');
  const tracing = startTracing();
  const metrics = startMetrics();
  const instrumentation = new SqlitePoolInstrumentation({
    tracerProvider: tracing.provider,
    meterProvider: metrics.provider,
  });
  const before = await snapshot(tracing, metrics);
  const traced = await monitoringCycle(fixture.filename, 0);
  const emitted = diff(await snapshot(tracing, metrics), before);
  instrumentation.disable();
  await tracing.provider.shutdown();
  await metrics.provider.shutdown();
  // Warm-up (5) and measured cycles, 100 forced probes each, plus one probe per connection opened.
  const cyclesRun = traced.cycles + 5;
  const cycleSpans = emitted.spans['sqlite_pool.health_monitor.cycle'] ?? 0;
  const probeSpans = emitted.spans['sqlite_pool.health_check'] ?? 0;
  const connectSpans = emitted.spans['sqlite_pool.connect'] ?? 0;
  if (cycleSpans !== cyclesRun || probeSpans !== cyclesRun * CONNECTIONS + connectSpans) {
    throw new Error(
      `TELEMETRY CHECK FAILED (health-cost traced monitoring cycles): expected ${cyclesRun} cycle spans and ` +
        `${cyclesRun} × ${CONNECTIONS} + ${connectSpans} (connect) health_check spans; observed ${JSON.stringify(emitted.spans)}`,
    );
  }
  const tracedCheck = `${cycleSpans} cycle spans, ${probeSpans} health_check spans counted`;

  const pct = (x: number) => `${(x * 100).toFixed(3)}%`;
  const lines = [
    '### Health checking: cost and memory (bench/health-cost.ts)',
    '',
    '| what | measured | the guide says |',
    '|---|---:|---|',
    `| CPU time of one monitoring cycle, ${CONNECTIONS} idle connections, default config (${cycle.probedPerCycle} probes in batches of 5; mean of ${cycle.cycles} cycles) | ${cycle.cpuMsPerCycle.toFixed(2)} ms (max ${cycle.cpuMsPerCycleMax.toFixed(2)} ms; wall ${cycle.wallMsPerCycle.toFixed(2)} ms) | ~10 ms per batch of 5 |`,
    `| Share of one core at the default 30 s interval | ${pct(cycle.coreShareAtInterval)} | under 1% |`,
    `| The same cycle with SqlitePoolInstrumentation registered (metrics and traces; ${tracedCheck}) | ${traced.cpuMsPerCycle.toFixed(2)} ms (max ${traced.cpuMsPerCycleMax.toFixed(2)} ms; wall ${traced.wallMsPerCycle.toFixed(2)} ms), ${pct(traced.coreShareAtInterval)} of a core | — |`,
    `| One probe, \`validateHealth({ force: true })\` (handle, transaction, file identity, \`SELECT 1\`) | ${cycle.probeUs.toFixed(2)} µs | under 1 ms |`,
    `| Borrow-time probe as the caller sees it (acquire+release with cacheDurationMs 0 minus with the default 5 s cache) | ${borrow.borrowProbeUs.toFixed(2)} µs (${borrow.cachedAcquireUs.toFixed(2)} → ${borrow.probingAcquireUs.toFixed(2)} µs, ${borrow.ratio.toFixed(2)}x) | — |`,
    `| JS heap per pooled connection on top of better-sqlite3 (slope 10→100 connections, median of ${mem.addedBytesPerConnectionSamples.length}) | ${Math.round(mem.addedBytesPerConnection).toLocaleString('en-US')} bytes (samples ${mem.addedBytesPerConnectionSamples.join(', ')}) | ~300 bytes |`,
    `| for reference: JS heap per better-sqlite3 \`Database\` / per pooled connection of ours, in all | ${Math.round(mem.rawBytesPerConnection).toLocaleString('en-US')} / ${Math.round(mem.oursBytesPerConnection).toLocaleString('en-US')} bytes; pool's fixed part ${Math.round(mem.oursFixedBytes).toLocaleString('en-US')} bytes | — |`,
    '',
    'CPU time is the process\'s (process.cpuUsage(), every thread: V8\'s GC and compiler threads included), so it can exceed the wall time. Heap only: SQLite\'s own memory (page cache, prepared statements\' native side) lives outside the V8 heap for both. No instrumentation is registered except in the row that says so.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (emit) process.stdout.write(`@@HEALTH ${JSON.stringify({ cycle, tracedCycle: { ...traced, telemetry: tracedCheck }, borrow, memory: mem })}\n`);
} finally {
  removeFixture(fixture.dir);
}
