/**
 * Soak run (issue 7): steady load on one pool with telemetry on and no faults, for N minutes.
 *
 *   npm run soak -- --minutes 10
 *   npm run soak -- --minutes 1 --concurrency 32 --pool-size 8 --mode worker --json
 *
 * Every virtual user runs requests back to back: each request is a root span (as in a service,
 * with AsyncLocalStorage context) around a read on a lease, a shortcut read, or a write
 * transaction. Metrics go through a PeriodicExportingMetricReader and spans through a
 * BatchSpanProcessor, both into exporters that count and discard. The report gives throughput,
 * the acquire wait (p50/p99), the event-loop delay, heap and RSS at the start, after warm-up and at
 * the end (after a forced GC), and the heap's growth after warm-up: total, and the slope of a
 * line fitted through a sample taken (after GC) every `--sample-seconds`.
 */
import { context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DatabaseManager, SqlitePoolInstrumentation } from '../src/index.js';

const USAGE = `npm run soak -- [options]

  --minutes N          how long to run, warm-up included (default 1)
  --warmup-seconds S   warm-up before the measured phase (default: 20% of the run, 10 to 60 s)
  --concurrency N      virtual users running requests back to back (default 16)
  --pool-size N        the pool's poolSize (default 4)
  --mode thread|worker the pool's mode (default thread)
  --sample-seconds S   heap sample interval after warm-up (default 10)
  --rows N             rows in the items table (default 10000)
  --json               print the result as JSON too
  --help               this text`;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    'warmup-seconds': { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    'pool-size': { type: 'string', default: '4' },
    mode: { type: 'string', default: 'thread' },
    'sample-seconds': { type: 'string', default: '10' },
    rows: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, not ${String(value)}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const minutes = positive('minutes', args.minutes);
const totalMs = minutes * 60_000;
const warmupMs = args['warmup-seconds'] === undefined ? Math.min(60_000, Math.max(10_000, totalMs * 0.2)) : positive('warmup-seconds', args['warmup-seconds']) * 1000;
const concurrency = Math.round(positive('concurrency', args.concurrency));
const poolSize = Math.round(positive('pool-size', args['pool-size']));
const sampleMs = positive('sample-seconds', args['sample-seconds']) * 1000;
const rows = Math.round(positive('rows', args.rows));
const mode = args.mode;
if (mode !== 'thread' && mode !== 'worker') {
  console.error(`--mode must be thread or worker\n\n${USAGE}`);
  process.exit(2);
}
if (warmupMs >= totalMs) {
  console.error('--warmup-seconds must be shorter than the run');
  process.exit(2);
}

/** A full GC: the global one under --expose-gc, else V8's, exposed for this process at run time. */
const gc: (() => void) | undefined = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

interface MemorySnapshot {
  readonly atSeconds: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly rssMB: number;
  readonly externalMB: number;
}

const started = performance.now();
const MB = 1024 * 1024;
function memory(): MemorySnapshot {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return {
    atSeconds: Math.round((performance.now() - started) / 100) / 10,
    heapUsedMB: round(m.heapUsed / MB, 2),
    heapTotalMB: round(m.heapTotal / MB, 2),
    rssMB: round(m.rss / MB, 1),
    externalMB: round(m.external / MB, 2),
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// --- telemetry into exporters that count and discard -------------------------------------

class DiscardingSpanExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

class DiscardingMetricExporter implements PushMetricExporter {
  exports = 0;
  points = 0;
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.exports++;
    for (const scope of metrics.scopeMetrics) for (const metric of scope.metrics) this.points += metric.dataPoints.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const spanExporter = new DiscardingSpanExporter();
const tracerProvider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new BatchSpanProcessor(spanExporter)] });
const metricExporter = new DiscardingMetricExporter();
const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 5000 })] });
const instrumentation = new SqlitePoolInstrumentation({ tracerProvider, meterProvider });
const tracer: Tracer = tracerProvider.getTracer('soak');

// --- the pool and the load ---------------------------------------------------------------

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-sqlite-pool-soak-'));
const filename = path.join(dir, 'soak.db');
const pool = new DatabaseManager({ filename, poolSize, mode, healthCheckConfig: { intervalMs: 5000, minHealthyConnections: Math.min(2, poolSize) } });
await pool.exec(`
  CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, updated REAL NOT NULL);
  CREATE TABLE events (id INTEGER PRIMARY KEY, item INTEGER NOT NULL, at REAL NOT NULL);
  CREATE INDEX events_item ON events (item);
`);
await pool.transaction(async (lease) => {
  for (let id = 1; id <= rows; id++) await lease.run('INSERT INTO items (id, name, qty, updated) VALUES (?, ?, 0, 0)', [id, `item ${id}`]);
});

/** Acquire waits in microseconds (at least 1: the histogram takes positive integers). */
let acquireWait: RecordableHistogram = createHistogram();
/** Samples every millisecond; a value is the interval between samples, so the delay is what exceeds 1 ms. */
const LOOP_RESOLUTION_MS = 1;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
/** Event-loop delay in ms: how much later than the sampling interval the sample came. */
const ms = (ns: number): number => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS), 3);
let measuring = false;
let stopping = false;
const counts = { requests: 0, reads: 0, shortcutReads: 0, writes: 0, errors: 0 };
let measuredRequests = 0;
const firstErrors: string[] = [];

function recordWait(startedAt: number): void {
  acquireWait.record(Math.max(1, Math.round((performance.now() - startedAt) * 1000)));
}

/** A small xorshift: the mix of requests is the same in every run. */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

async function request(random: () => number): Promise<void> {
  const id = 1 + Math.floor(random() * rows);
  const kind = random();
  if (kind < 0.55) {
    const startedAt = performance.now();
    const lease = await pool.getConnection();
    recordWait(startedAt);
    try {
      await lease.get('SELECT id, name, qty FROM items WHERE id = ?', [id]);
      await lease.all('SELECT item, count(*) AS n FROM events WHERE item BETWEEN ? AND ? GROUP BY item', [id, id + 20]);
    } finally {
      lease.release();
    }
    counts.reads++;
  } else if (kind < 0.8) {
    await pool.get('SELECT qty, updated FROM items WHERE id = ?', [id]);
    counts.shortcutReads++;
  } else {
    const startedAt = performance.now();
    await pool.transaction(async (lease) => {
      recordWait(startedAt);
      const at = Date.now() / 1000;
      await lease.run('UPDATE items SET qty = qty + 1, updated = ? WHERE id = ?', [at, id]);
      const { lastInsertRowid } = await lease.run('INSERT INTO events (item, at) VALUES (?, ?)', [id, at]);
      // Keep the events table at about 20,000 rows: the database stays the same size.
      if (Number(lastInsertRowid) % 1000 === 0) await lease.run('DELETE FROM events WHERE id <= ?', [Number(lastInsertRowid) - 20_000]);
    });
    counts.writes++;
  }
}

async function virtualUser(index: number): Promise<void> {
  const random = rng(0x50a1 + index * 7919);
  while (!stopping) {
    try {
      await tracer.startActiveSpan('GET /soak', async (span) => {
        try {
          await request(random);
        } finally {
          span.end();
        }
      });
    } catch (error) {
      counts.errors++;
      if (firstErrors.length < 5) firstErrors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
    counts.requests++;
    if (measuring) measuredRequests++;
    // A request on an idle connection finishes without a macrotask; in a service each request
    // arrives as I/O. Yield, so timers (telemetry export, monitoring) run between requests.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

// --- run -----------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
console.error(
  `soak: ${minutes} min (warm-up ${warmupMs / 1000} s), ${concurrency} users, poolSize ${poolSize}, mode ${mode}, ` +
    `${rows} rows, GC ${gc === undefined ? 'not available' : (globalThis as { gc?: unknown }).gc !== undefined ? 'via --expose-gc' : 'via v8.setFlagsFromString'}`,
);
const atStart = memory();
loopDelay.enable();
const users = Array.from({ length: concurrency }, (_, i) => virtualUser(i));

let lastRequests = 0;
let lastTick = performance.now();
const progress = setInterval(() => {
  const t = performance.now();
  const rate = ((counts.requests - lastRequests) / (t - lastTick)) * 1000;
  lastRequests = counts.requests;
  lastTick = t;
  const m = process.memoryUsage();
  console.error(
    `  ${((t - started) / 1000).toFixed(0).padStart(5)} s  ${rate.toFixed(0).padStart(7)} req/s  heap ${(m.heapUsed / MB).toFixed(1)} MB  rss ${(m.rss / MB).toFixed(0)} MB  ` +
      `wait p99 ${(acquireWait.percentile(99) / 1000).toFixed(3)} ms  loop delay p99 ${ms(loopDelay.percentile(99)).toFixed(2)} ms  errors ${counts.errors}`,
  );
}, 10_000);

await sleep(warmupMs);
const afterWarmup = memory();
const statsAtWarmup = pool.getConnectionStatsSync().lifetime;
acquireWait = createHistogram();
loopDelay.reset();
measuring = true;
const measureStarted = performance.now();
const samples: MemorySnapshot[] = [afterWarmup];
while (performance.now() - started < totalMs - 1) {
  await sleep(Math.min(sampleMs, totalMs - (performance.now() - started)));
  samples.push(memory());
}
measuring = false;
const measuredMs = performance.now() - measureStarted;
stopping = true;
await Promise.all(users);
clearInterval(progress);
loopDelay.disable();
const atEnd = samples[samples.length - 1] ?? memory();
const stats = pool.getConnectionStatsSync();
await pool.close();
await tracerProvider.forceFlush();
await meterProvider.forceFlush();
instrumentation.disable();
await tracerProvider.shutdown();
await meterProvider.shutdown();
fs.rmSync(dir, { recursive: true, force: true });

/** Least-squares slope of heapUsed over time, in MB per minute. */
function slopeMBPerMinute(points: readonly MemorySnapshot[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const xs = points.map((p) => p.atSeconds / 60);
  const ys = points.map((p) => p.heapUsedMB);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const result = {
  config: { minutes, warmupSeconds: warmupMs / 1000, concurrency, poolSize, mode, rows, gc: gc !== undefined },
  environment: { node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, platform: `${os.platform()} ${os.release()}` },
  throughput: {
    requestsPerSecond: Math.round((measuredRequests / measuredMs) * 1000),
    measuredRequests,
    totalRequests: counts.requests,
    mix: { reads: counts.reads, shortcutReads: counts.shortcutReads, writes: counts.writes },
    errors: counts.errors,
    firstErrors,
  },
  acquireWaitMs: {
    p50: round(acquireWait.percentile(50) / 1000, 3),
    p99: round(acquireWait.percentile(99) / 1000, 3),
    max: round(acquireWait.max / 1000, 3),
    count: acquireWait.count,
  },
  eventLoopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max), mean: ms(loopDelay.mean) },
  memory: {
    atStart,
    afterWarmup,
    atEnd,
    heapGrowthAfterWarmupMB: round(atEnd.heapUsedMB - afterWarmup.heapUsedMB, 2),
    heapSlopeAfterWarmupMBPerMinute: round(slopeMBPerMinute(samples), 3),
    rssGrowthAfterWarmupMB: round(atEnd.rssMB - afterWarmup.rssMB, 1),
    samples: samples.length,
  },
  pool: {
    created: stats.lifetime.created,
    createdAfterWarmup: stats.lifetime.created - statsAtWarmup.created,
    closed: stats.lifetime.closed,
    healthChecks: stats.lifetime.healthChecks,
    healthCheckFailures: stats.lifetime.healthCheckFailures,
    timeouts: stats.lifetime.timeouts,
    leaks: stats.lifetime.leaks,
  },
  telemetry: { spansExported: spanExporter.spans, metricExports: metricExporter.exports, metricPointsExported: metricExporter.points },
};

const mb = (s: MemorySnapshot): string => `${s.heapUsedMB.toFixed(1)} MB heap, ${s.rssMB.toFixed(0)} MB RSS`;
console.log(`## Soak: ${minutes} min, ${concurrency} users, poolSize ${poolSize}, ${mode} mode, telemetry on

| | |
|---|---|
| Node / CPU | ${result.environment.node}, ${result.environment.cpu} (${result.environment.cores} cores) |
| Throughput (after ${warmupMs / 1000} s warm-up) | ${result.throughput.requestsPerSecond.toLocaleString('en-US')} requests/s (${measuredRequests.toLocaleString('en-US')} requests; 55% lease reads, 25% shortcut reads, 20% write transactions) |
| Errors | ${counts.errors}${firstErrors.length > 0 ? ` (${firstErrors.join('; ')})` : ''} |
| Acquire wait | p50 ${result.acquireWaitMs.p50} ms, p99 ${result.acquireWaitMs.p99} ms, max ${result.acquireWaitMs.max} ms |
| Event-loop delay (monitorEventLoopDelay, beyond its 1 ms interval) | p50 ${result.eventLoopDelayMs.p50} ms, p99 ${result.eventLoopDelayMs.p99} ms, max ${result.eventLoopDelayMs.max} ms |
| Memory at start | ${mb(atStart)} |
| Memory after warm-up | ${mb(afterWarmup)} |
| Memory at the end | ${mb(atEnd)} |
| Heap growth after warm-up | ${result.memory.heapGrowthAfterWarmupMB >= 0 ? '+' : ''}${result.memory.heapGrowthAfterWarmupMB} MB (slope ${result.memory.heapSlopeAfterWarmupMBPerMinute} MB/min over ${samples.length} samples${gc === undefined ? ', no forced GC' : ', each after a forced GC'}) |
| Connections | ${stats.lifetime.created} created (${result.pool.createdAfterWarmup} after warm-up: maxUsage ${pool.healthCheckConfig.maxUsage} retires them), ${stats.lifetime.healthChecks} probes, ${stats.lifetime.timeouts} timeouts, ${stats.lifetime.leaks} leaks |
| Telemetry | ${spanExporter.spans.toLocaleString('en-US')} spans and ${metricExporter.exports} metric exports (${metricExporter.points.toLocaleString('en-US')} points) discarded |
`);
if (args.json) console.log(JSON.stringify(result, null, 2));
