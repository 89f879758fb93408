/**
 * Interleaved timing: raw better-sqlite3 and the contender take turns in short rounds in the same
 * process (R C R C ... C R), so a drift in machine speed hits both alike. Each round runs batches
 * of `batch` operations timed as a whole with process.hrtime.bigint(); the event loop gets a turn
 * (setImmediate) between batches, outside the timed region, so timers and I/O callbacks
 * (span export, pool housekeeping) are not starved.
 */

/** Runs `count` operations using argument indices start, start+1, ... */
export type Runner = (start: number, count: number) => void | Promise<void>;

export interface Side {
  readonly run: Runner;
  /** The runner returns nothing to await (raw better-sqlite3). */
  readonly sync: boolean;
  /** Operations per timed batch. */
  readonly batch: number;
}

export interface MeasureOptions {
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
}

export interface SideStats {
  /** Mean time per operation: total timed ns / operations. */
  readonly meanNs: number;
  /** Percentiles of the per-operation time of each batch (batch time / batch size). */
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly opsPerSec: number;
  readonly ops: number;
  /** Mean ns per operation of every measured round, in order. */
  readonly roundMeansNs: readonly number[];
}

export interface Measurement {
  readonly raw: SideStats;
  readonly contender: SideStats;
  /** Per round: contender round mean / mean of the raw rounds just before and just after. */
  readonly ratio: {
    readonly median: number;
    /** First and third quartiles of the per-round ratios. */
    readonly q1: number;
    readonly q3: number;
    readonly min: number;
    readonly max: number;
    readonly perRound: readonly number[];
  };
  /** Every contender operation run, warm-up included (for the telemetry count). */
  readonly contenderOpsTotal: number;
}

interface Round {
  readonly ns: number;
  readonly ops: number;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class Cursor {
  i = 0;
  next(n: number): number {
    const s = this.i;
    this.i = (this.i + n) % 0x40000000;
    return s;
  }
}

async function runRound(side: Side, targetNs: number, cursor: Cursor, samples?: number[]): Promise<Round> {
  let ns = 0;
  let ops = 0;
  const { batch, run } = side;
  while (ns < targetNs) {
    const start = cursor.next(batch);
    let dt: number;
    if (side.sync) {
      const t0 = process.hrtime.bigint();
      void run(start, batch); // a sync side returns no promise (the type allows one)
      dt = Number(process.hrtime.bigint() - t0);
    } else {
      const t0 = process.hrtime.bigint();
      await run(start, batch);
      dt = Number(process.hrtime.bigint() - t0);
    }
    ns += dt;
    ops += batch;
    samples?.push(dt / batch);
    await yieldToEventLoop();
  }
  return { ns, ops };
}

/** Runs exactly `ops` operations (rounded up to whole batches); returns how many ran. */
export async function runCount(side: Side, ops: number): Promise<number> {
  const cursor = new Cursor();
  let done = 0;
  while (done < ops) {
    const start = cursor.next(side.batch);
    if (side.sync) void side.run(start, side.batch);
    else await side.run(start, side.batch);
    done += side.batch;
    await yieldToEventLoop();
  }
  return done;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Linear interpolation between closest ranks (the usual "type 7" quantile). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function stats(rounds: readonly Round[], samples: number[]): SideStats {
  let ns = 0;
  let ops = 0;
  for (const r of rounds) {
    ns += r.ns;
    ops += r.ops;
  }
  const sorted = Float64Array.from(samples).sort();
  const meanNs = ns / ops;
  return {
    meanNs,
    p50Ns: percentile(sorted, 50),
    p99Ns: percentile(sorted, 99),
    opsPerSec: 1e9 / meanNs,
    ops,
    roundMeansNs: rounds.map((r) => r.ns / r.ops),
  };
}

export async function interleave(raw: Side, contender: Side, options: MeasureOptions): Promise<Measurement> {
  const rawCursor = new Cursor();
  const contenderCursor = new Cursor();
  let contenderOpsTotal = 0;

  // Warm-up: alternate in slices until each side has had warmupMs/2 of timed work.
  const sliceNs = Math.min(options.roundMs, 50) * 1e6;
  let warmedNs = 0;
  while (warmedNs < options.warmupMs * 1e6) {
    warmedNs += (await runRound(raw, sliceNs, rawCursor)).ns;
    const c = await runRound(contender, sliceNs, contenderCursor);
    warmedNs += c.ns;
    contenderOpsTotal += c.ops;
  }

  const roundNs = options.roundMs * 1e6;
  const rawSamples: number[] = [];
  const contenderSamples: number[] = [];
  const rawRounds: Round[] = [await runRound(raw, roundNs, rawCursor, rawSamples)];
  const contenderRounds: Round[] = [];
  for (let i = 0; i < options.rounds; i++) {
    const c = await runRound(contender, roundNs, contenderCursor, contenderSamples);
    contenderRounds.push(c);
    contenderOpsTotal += c.ops;
    rawRounds.push(await runRound(raw, roundNs, rawCursor, rawSamples));
  }

  const perRound = contenderRounds.map((c, i) => {
    const before = rawRounds[i]!;
    const after = rawRounds[i + 1]!;
    return c.ns / c.ops / ((before.ns / before.ops + after.ns / after.ops) / 2);
  });
  const sortedRatios = Float64Array.from(perRound).sort();

  return {
    raw: stats(rawRounds, rawSamples),
    contender: stats(contenderRounds, contenderSamples),
    ratio: {
      median: quantile(sortedRatios, 0.5),
      q1: quantile(sortedRatios, 0.25),
      q3: quantile(sortedRatios, 0.75),
      min: sortedRatios[0]!,
      max: sortedRatios[sortedRatios.length - 1]!,
      perRound,
    },
    contenderOpsTotal,
  };
}
