/**
 * `npm run bench` (tsx bench/run.ts): every contender in its own process, timed in alternation with
 * raw better-sqlite3, then the health-check cost; prints a Markdown report and writes it (and the
 * raw JSON) to bench/results/.
 *
 *   --quick               short rounds, one process per contender (under a minute)
 *   --only a,b            contenders to run (see --list)
 *   --workload a,b        workloads to run: point, range, insert, acquire, concurrent
 *   --rounds N            measured rounds per side (default 20; quick 4)
 *   --round-ms N          timed ms per round (default 100; quick 40)
 *   --warmup-ms N         timed warm-up ms (default 1000; quick 200)
 *   --dir DIR             where the temp database goes (default /dev/shm if writable, else os.tmpdir())
 *   --no-health           skip bench/health-cost.ts;  --health-only: run only it
 *   --no-write            do not write bench/results/
 *   --list                list contenders and workloads
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENDERS } from './contenders/index.js';
import { WORKLOADS, WORKLOAD_TITLES, type WorkloadName } from './contenders/types.js';
import { defaultBaseDir } from './lib/db.js';
import { describeEnvironment, fileSystemOf } from './lib/environment.js';
import { renderReport, type HealthSection, type Job } from './lib/report.js';
import type { WorkerError, WorkerResult } from './worker.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');

interface Options {
  quick: boolean;
  only: string[];
  workloads: WorkloadName[];
  rounds: number;
  roundMs: number;
  warmupMs: number;
  dir: string;
  health: boolean;
  benches: boolean;
  write: boolean;
}

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n\n`);
  const lines = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const header = lines.slice(1, lines.indexOf(' */'));
  process.stderr.write(`${header.map((l) => l.replace(/^ \* ?/, '')).join('\n')}\n`);
  process.exit(message ? 2 : 0);
}

function parse(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    only: Object.keys(CONTENDERS),
    workloads: [...WORKLOADS],
    rounds: quick ? 4 : 20,
    roundMs: quick ? 40 : 100,
    warmupMs: quick ? 200 : 1000,
    dir: defaultBaseDir(),
    health: true,
    benches: true,
    write: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const number = (): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v <= 0) usage(`${a} needs a positive number`);
      return v;
    };
    switch (a) {
      case '--quick':
        break;
      case '--only': {
        o.only = value().split(',').filter(Boolean);
        for (const c of o.only) if (!CONTENDERS[c]) usage(`unknown contender "${c}"; known: ${Object.keys(CONTENDERS).join(', ')}`);
        break;
      }
      case '--workload':
      case '--workloads': {
        o.workloads = value().split(',').filter(Boolean) as WorkloadName[];
        for (const w of o.workloads) if (!WORKLOADS.includes(w)) usage(`unknown workload "${w}"; known: ${WORKLOADS.join(', ')}`);
        break;
      }
      case '--rounds':
        o.rounds = number();
        break;
      case '--round-ms':
        o.roundMs = number();
        break;
      case '--warmup-ms':
        o.warmupMs = number();
        break;
      case '--dir':
        o.dir = value();
        break;
      case '--no-health':
        o.health = false;
        break;
      case '--health-only':
        o.benches = false;
        break;
      case '--no-write':
        o.write = false;
        break;
      case '--list': {
        for (const [name, c] of Object.entries(CONTENDERS)) {
          process.stdout.write(`${name.padEnd(24)} ${c.workloads.join(',').padEnd(36)} ${c.description}\n`);
        }
        process.stdout.write(`\nworkloads: ${WORKLOADS.map((w) => `${w} (${WORKLOAD_TITLES[w]})`).join('; ')}\n`);
        process.exit(0);
      }
      // falls through (process.exit)
      case '--help':
      case '-h':
        usage();
      // falls through (usage exits)
      default:
        usage(`unknown argument "${a}"`);
    }
  }
  return o;
}

interface ChildOutput {
  code: number | null;
  stdout: string;
}

/** Runs `node --import tsx <script> ...` from the repository root; stderr streams through. */
function runChild(nodeArgs: string[], script: string, args: string[], timeoutMs: number): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(BENCH_DIR, script), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => {
      process.stderr.write(`${script} ${args.join(' ')}: timed out after ${timeoutMs} ms, killing pid ${child.pid}\n`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

function commandLine(argv: string[]): string {
  const args = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `tsx bench/run.ts${args ? ` ${args}` : ''}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const options = parse(argv);
  fs.mkdirSync(options.dir, { recursive: true });
  const started = Date.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const jobs: Job[] = [];
  const results: WorkerResult[] = [];
  const errors: WorkerError[] = [];

  if (options.benches) {
    const plan: Array<{ contender: string; workloads: WorkloadName[] }> = [];
    for (const contender of options.only) {
      const workloads = options.workloads.filter((w) => CONTENDERS[contender]!.workloads.includes(w));
      if (workloads.length === 0) continue;
      // Full runs give every (contender, workload) a fresh process; --quick shares one per contender.
      if (options.quick) plan.push({ contender, workloads });
      else for (const w of workloads) plan.push({ contender, workloads: [w] });
    }
    const workerArgs = [
      '--rounds', String(options.rounds),
      '--round-ms', String(options.roundMs),
      '--warmup-ms', String(options.warmupMs),
      '--check-ops', options.quick ? '256' : '512',
      '--dir', options.dir,
    ];
    process.stderr.write(
      `bench: ${plan.length} worker processes; ${options.rounds} rounds × ${options.roundMs} ms per side after ${options.warmupMs} ms warm-up; database in ${options.dir}\n`,
    );
    for (const [i, step] of plan.entries()) {
      process.stderr.write(`[${i + 1}/${plan.length}] ${step.contender}: ${step.workloads.join(', ')}\n`);
      const budgetMs = 60_000 + step.workloads.length * (options.warmupMs + options.rounds * options.roundMs * 2) * 4;
      const out = await runChild([], 'worker.ts', [step.contender, step.workloads.join(','), ...workerArgs], budgetMs);
      let seen = 0;
      for (const line of out.stdout.split('\n')) {
        if (line.startsWith('@@RESULT ')) {
          results.push(JSON.parse(line.slice(9)) as WorkerResult);
          seen++;
        } else if (line.startsWith('@@ERROR ')) {
          errors.push(JSON.parse(line.slice(8)) as WorkerError);
          seen++;
        }
      }
      if (out.code !== 0 && seen === 0) {
        errors.push({ contender: step.contender, message: `worker exited with code ${out.code} and reported nothing` });
      }
      jobs.push({ contender: step.contender, workloads: step.workloads, exitCode: out.code });
    }
  }

  let health: HealthSection | undefined;
  if (options.health) {
    process.stderr.write(`health-cost: ${options.quick ? 'quick' : 'full'}\n`);
    const out = await runChild(['--expose-gc'], 'health-cost.ts', [...(options.quick ? ['--quick'] : []), '--dir', options.dir, '--emit'], 300_000);
    const markdown = out.stdout.split('\n').filter((l) => !l.startsWith('@@')).join('\n').trim();
    const jsonLine = out.stdout.split('\n').find((l) => l.startsWith('@@HEALTH '));
    health = { markdown, data: jsonLine ? (JSON.parse(jsonLine.slice(9)) as unknown) : undefined, exitCode: out.code };
    if (out.code !== 0) errors.push({ contender: 'health-cost', message: `bench/health-cost.ts exited with code ${out.code}` });
  }

  const environment = describeEnvironment(ROOT);
  const report = renderReport({
    command: commandLine(argv),
    environment,
    database: { dir: options.dir, fileSystem: fileSystemOf(options.dir) },
    options: { quick: options.quick, rounds: options.rounds, roundMs: options.roundMs, warmupMs: options.warmupMs },
    results,
    errors,
    health,
    elapsedSeconds: (Date.now() - started) / 1000,
    load: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
  });
  process.stdout.write(`${report}\n`);

  if (options.write) {
    const dir = path.join(BENCH_DIR, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const base = path.join(dir, `${stamp}${options.quick ? '-quick' : ''}`);
    fs.writeFileSync(`${base}.md`, `${report}\n`);
    fs.writeFileSync(
      `${base}.json`,
      `${JSON.stringify({ command: commandLine(argv), environment, options, jobs, results, errors, health: health?.data }, null, 2)}\n`,
    );
    process.stderr.write(`written: ${path.relative(ROOT, base)}.md and .json\n`);
  }
  if (errors.length > 0) {
    process.stderr.write(`\nbench: ${errors.length} FAILURE(S) — see "Failures" in the report above.\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
