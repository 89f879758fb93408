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

/** Point-read ratios: the issue's reference measurements for the peers, its goals for ours. */
const POINT_READ_TARGETS: Record<string, { readonly kind: 'reference' | 'goal'; readonly ratio: number }> = {
  'generic-pool': { kind: 'reference', ratio: 1.28 },
  'generic-pool+otel': { kind: 'reference', ratio: 2.27 },
  'generic-pool+otel+span': { kind: 'reference', ratio: 3.22 },
  knex: { kind: 'reference', ratio: 4.7 },
  'knex+otel': { kind: 'reference', ratio: 8.2 },
  ours: { kind: 'goal', ratio: 1.15 },
  'ours+metrics': { kind: 'goal', ratio: 1.6 },
  'ours+metrics+traces': { kind: 'goal', ratio: 2.0 },
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

  const pointRows = Object.entries(POINT_READ_TARGETS)
    .map(([c, t]) => ({ c, t, r: byKey.get(`${c}|point`) }))
    .filter((x) => x.r || errorFor(x.c, 'point'));
  if (pointRows.length > 0) {
    out.push('### Point read against the issue (one caller)', '');
    out.push('| contender | measured | issue | verdict |');
    out.push('|---|---:|---:|---|');
    for (const { c, t, r } of pointRows) {
      const measured = r ? r.measurement.ratio.median : undefined;
      let verdict: string;
      if (measured === undefined) verdict = 'not measured (failed)';
      else if (t.kind === 'reference') verdict = `reference measurement (${(measured / t.ratio).toFixed(2)}× of it here)`;
      else if (measured <= t.ratio) verdict = `goal met (≤ ${t.ratio.toFixed(2)}x)`;
      else verdict = `goal missed by ${(measured - t.ratio).toFixed(2)}x (${(((measured - t.ratio) / t.ratio) * 100).toFixed(0)}%)`;
      out.push(`| ${c} | ${measured === undefined ? '—' : `${measured.toFixed(2)}x`} | ${t.kind === 'goal' ? '≤ ' : ''}${t.ratio.toFixed(2)}x | ${verdict} |`);
    }
    out.push('');
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
