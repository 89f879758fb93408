/** The Markdown report `run.ts` prints. */
import { CONTENDERS } from '../contenders/index.js';
import { WORKLOADS, WORKLOAD_TITLES, type WorkloadName } from '../contenders/types.js';
import type { WorkerError, WorkerResult } from '../worker.js';
import type { Environment } from './environment.js';

export interface Job {
  readonly contender: string;
  readonly workloads: readonly WorkloadName[];
  readonly exitCode: number | null;
}

export interface HealthSection {
  readonly markdown: string;
  readonly data: unknown;
  readonly exitCode: number | null;
}

export interface ReportInput {
  readonly command: string;
  readonly environment: Environment;
  readonly database: { readonly dir: string; readonly fileSystem: string };
  readonly options: { readonly quick: boolean; readonly rounds: number; readonly roundMs: number; readonly warmupMs: number };
  readonly results: readonly WorkerResult[];
  readonly errors: readonly WorkerError[];
  readonly health: HealthSection | undefined;
  readonly elapsedSeconds: number;
  /** 1-minute load average when the run started and when it ended. */
  readonly load: { readonly start: number; readonly end: number };
}

/** An interquartile range of the per-round ratios wider than this share of the median marks a result as noisy. */
const NOISY_SPREAD = 0.1;

function noisy(r: WorkerResult): boolean {
  const { median, q1, q3 } = r.measurement.ratio;
  return (q3 - q1) / median > NOISY_SPREAD;
}

/**
 * The point read against issue 11: its measurements (2026-12-01) for every contender of its
 * table, its goals for ours, and, for each of ours with telemetry, the SDK floor measured in the
 * same run (contenders/sdk-floor.ts: raw better-sqlite3 plus exactly the SDK calls ours makes).
 */
interface PointTarget {
  /** Issue 11's measurement (× raw). */
  readonly issue?: string;
  /** Goal: at most this ratio to raw. */
  readonly atMost?: number;
  /** Goal: at most `factor` × the ratio `peer` measured in this run. */
  readonly peer?: { readonly name: string; readonly factor: number; readonly text: string };
  /** The contender that makes the same SDK calls with no pool. */
  readonly floor?: string;
}

const GENERIC_SPAN = 'generic-pool+otel+span';

export const POINT_READ_TARGETS: Record<string, PointTarget> = {
  'generic-pool': { issue: '1.17' },
  'generic-pool+otel': { issue: '1.90' },
  [GENERIC_SPAN]: { issue: '2.77' },
  'raw+plugin': { issue: '1.54' },
  'knex+otel': { issue: '5.56' },
  ours: { issue: '1.35', atMost: 1.15 },
  'ours+metrics': { issue: '2.36', atMost: 1.6, floor: 'sdk-floor-metrics' },
  'ours+metrics+traces': {
    issue: '2.90',
    atMost: 2.0,
    peer: { name: GENERIC_SPAN, factor: 0.75, text: `≥ 25% faster than ${GENERIC_SPAN} (≤ 0.75 × its ratio)` },
    floor: 'sdk-floor',
  },
  'ours+metrics+traces+lease': {
    issue: '3.41–3.51',
    peer: { name: GENERIC_SPAN, factor: 1, text: `no slower than ${GENERIC_SPAN}` },
    floor: 'sdk-floor-lease',
  },
};

function us(ns: number): string {
  const v = ns / 1000;
  return v >= 100 ? `${v.toFixed(0)} µs` : v >= 10 ? `${v.toFixed(1)} µs` : `${v.toFixed(2)} µs`;
}

function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ratio(r: WorkerResult): string {
  const { median, q1, q3 } = r.measurement.ratio;
  return `**${median.toFixed(2)}x** (${q1.toFixed(2)}–${q3.toFixed(2)})${noisy(r) ? ' ⚠' : ''}`;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

export function renderReport(input: ReportInput): string {
  const { environment: env, results, errors, options } = input;
  const out: string[] = [];
  const byKey = new Map<string, WorkerResult>();
  for (const r of results) byKey.set(`${r.contender}|${r.workload}`, r);
  const errorFor = (contender: string, workload?: WorkloadName) =>
    errors.find((e) => e.contender === contender && (e.workload === undefined || e.workload === workload));
  const contenders = Object.keys(CONTENDERS).filter(
    (c) => results.some((r) => r.contender === c) || errors.some((e) => e.contender === c),
  );
  const workloads = WORKLOADS.filter((w) => results.some((r) => r.workload === w));

  out.push(`## Benchmark results${options.quick ? ' (--quick: indicative only)' : ''}`, '');
  out.push(`- Command: \`${input.command}\` (${input.elapsedSeconds.toFixed(0)} s)`);
  out.push(`- Machine: ${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB; ${env.os}`);
  out.push(`- Node ${env.node}; otel-sqlite-pool at commit ${env.commit}`);
  const busy = Math.max(input.load.start, input.load.end) > env.cores * 0.5;
  out.push(
    `- Load average (1 min) at start / end: ${input.load.start.toFixed(2)} / ${input.load.end.toFixed(2)}${busy ? ' — other processes were competing for the cores during this run; treat ⚠ results with care' : ''}`,
  );
  out.push(`- Packages: ${Object.entries(env.packages).map(([n, v]) => `${n} ${v}`).join(', ')}`);
  out.push(
    `- Database: a fresh file per worker process in ${input.database.dir} (${input.database.fileSystem}), WAL, 10,000-row \`users\` table; pools of 4`,
  );
  out.push(
    `- Method: each contender in its own process, timed in alternation with raw better-sqlite3 in that process: ${options.rounds} rounds × ${options.roundMs} ms per side after ${options.warmupMs} ms of warm-up. Mean = timed ns / operations; p99 = 99th percentile of the per-operation time of 16-operation batches (128-operation batches, 32 callers × 4, for the concurrent workload); ratio = median over rounds of (contender round / mean of the raw rounds before and after it), with the interquartile range over rounds in parentheses.`,
  );
  out.push('');

  if (workloads.length > 0) {
    out.push('### Ratio to raw better-sqlite3 (median over rounds)', '');
    out.push(`| contender | ${workloads.map((w) => w).join(' | ')} |`);
    out.push(`|---|${workloads.map(() => '---:').join('|')}|`);
    for (const c of contenders) {
      const cells = workloads.map((w) => {
        const r = byKey.get(`${c}|${w}`);
        if (r) return `${r.measurement.ratio.median.toFixed(2)}x${noisy(r) ? ' ⚠' : ''}`;
        if (!CONTENDERS[c]!.workloads.includes(w)) return 'n/a';
        return errorFor(c, w) ? 'FAILED' : '—';
      });
      out.push(`| ${c} | ${cells.join(' | ')} |`);
    }
    out.push('');
    out.push(
      ...(results.some(noisy)
        ? [
            `⚠: the interquartile range of the per-round ratios is wider than ${NOISY_SPREAD * 100}% of the median (machine busy or drifting); rerun that contender with \`--only\`.`,
            '',
          ]
        : []),
      '`acquire` and `concurrent` have no raw equivalent: their ratio is to the raw one-caller point read in the same process (so `acquire` reads as "the pool\'s borrow+return costs this fraction of a point read", and `concurrent` as "per-read cost with 32 callers queueing on 4 connections").',
      '',
    );
  }

  const pointRatio = (c: string): number | undefined => byKey.get(`${c}|point`)?.measurement.ratio.median;
  const pointRows = Object.entries(POINT_READ_TARGETS).filter(([c]) => byKey.has(`${c}|point`) || errorFor(c, 'point'));
  if (pointRows.length > 0) {
    out.push('### Point read against the issue (one caller)', '');
    out.push(
      '| contender | measured | issue 11 measured | goal | verdict | SDK floor, same run | above the floor |',
      '|---|---:|---:|---|---|---:|---:|',
    );
    for (const [c, t] of pointRows) {
      const measured = pointRatio(c);
      const goals: string[] = [];
      const verdicts: string[] = [];
      if (t.atMost !== undefined) {
        goals.push(`≤ ${t.atMost.toFixed(2)}x`);
        if (measured !== undefined) {
          verdicts.push(
            measured <= t.atMost
              ? `met (≤ ${t.atMost.toFixed(2)}x)`
              : `missed by ${(measured - t.atMost).toFixed(2)}x (${(((measured - t.atMost) / t.atMost) * 100).toFixed(0)}%)`,
          );
        }
      }
      if (t.peer !== undefined) {
        goals.push(t.peer.text);
        const peer = pointRatio(t.peer.name);
        if (measured !== undefined) {
          if (peer === undefined) verdicts.push(`${t.peer.name} not measured in this run`);
          else {
            const bound = peer * t.peer.factor;
            const against = t.peer.factor === 1 ? `${t.peer.name}'s ${peer.toFixed(2)}x` : `${bound.toFixed(2)}x (${t.peer.factor} × ${peer.toFixed(2)}x)`;
            verdicts.push(`${measured <= bound ? 'met' : 'missed'}: ${measured.toFixed(2)}x against ${against}`);
          }
        }
      }
      const floor = t.floor === undefined ? undefined : pointRatio(t.floor);
      if (measured !== undefined && floor !== undefined && t.atMost !== undefined && measured > t.atMost && floor > t.atMost) {
        verdicts.push(`out of reach with these SDK calls: their floor is ${floor.toFixed(2)}x`);
      }
      const issue = t.issue === undefined ? undefined : Number.parseFloat(t.issue);
      const reference = issue === undefined || measured === undefined ? 'reference' : `reference (${(measured / issue).toFixed(2)}× the issue's figure here)`;
      const verdict = measured === undefined ? 'not measured (failed)' : verdicts.length > 0 ? verdicts.join('; ') : reference;
      const floorCell = t.floor === undefined ? '' : floor === undefined ? `${t.floor}: not measured` : `${floor.toFixed(2)}x (${t.floor})`;
      const above = measured !== undefined && floor !== undefined ? `+${(measured - floor).toFixed(2)}x` : '';
      out.push(
        `| ${c} | ${measured === undefined ? '—' : `${measured.toFixed(2)}x`} | ${t.issue === undefined ? '—' : `${t.issue}x`} | ${goals.join(', ') || '—'} | ${verdict} | ${floorCell} | ${above} |`,
      );
    }
    out.push(
      '',
      'SDK floor: raw better-sqlite3 plus exactly the OpenTelemetry calls that contender makes per read (same span, same attribute objects, same histograms and buckets, real providers), no pool, no promise; "above the floor" is what the pool itself adds, in units of a raw read. A goal below the floor cannot be met without making fewer SDK calls.',
      '',
    );
  }

  for (const w of workloads) {
    out.push(`### ${WORKLOAD_TITLES[w]}`, '');
    out.push('| contender | mean | p99 | ops/s | ratio to raw (IQR) | raw mean, same process | telemetry |');
    out.push('|---|---:|---:|---:|---:|---:|---|');
    for (const c of contenders) {
      const r = byKey.get(`${c}|${w}`);
      if (!r) {
        const e = errorFor(c, w);
        if (e && CONTENDERS[c]!.workloads.includes(w)) out.push(`| ${c} | FAILED | | | | | ${firstLine(e.message).slice(0, 120)} |`);
        continue;
      }
      const m = r.measurement;
      out.push(
        `| ${c} | ${us(m.contender.meanNs)} | ${us(m.contender.p99Ns)} | ${int(m.contender.opsPerSec)} | ${ratio(r)} | ${us(m.raw.meanNs)}${r.baseline === 'raw point read' ? ' (point read)' : ''} | ${r.telemetry ? 'verified' : '—'} |`,
      );
    }
    out.push('');
  }

  const proofs = results.filter((r) => r.telemetry);
  if (proofs.length > 0) {
    out.push('### Telemetry emitted (counted from the SDK, per operation)', '');
    for (const r of proofs) {
      out.push(`- ${r.contender} / ${r.workload}: check run ${r.telemetry!.check}; timed run ${r.telemetry!.timed}`);
    }
    out.push('');
  }

  if (input.health) {
    out.push(input.health.markdown, '');
  }

  if (errors.length > 0) {
    out.push('### Failures', '');
    for (const e of errors) {
      out.push(`- **${e.contender}${e.workload ? ` / ${e.workload}` : ''}**:`, '', '  ```', ...e.message.split('\n').slice(0, 12).map((l) => `  ${l}`), '  ```', '');
    }
  }
  out.push('Contenders:', '');
  for (const c of contenders) out.push(`- \`${c}\`: ${CONTENDERS[c]!.description}`);
  return out.join('\n');
}
