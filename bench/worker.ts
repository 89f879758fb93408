/**
 * One contender in its own process: `node --import tsx bench/worker.ts <contender> <workload[,...]>`
 * (run.ts spawns it). For each workload: a short telemetry check run, then raw better-sqlite3 and
 * the contender timed in alternation, then the telemetry of the whole timed run counted again.
 * Results go to stdout as `@@RESULT <json>` lines, failures as `@@ERROR <json>`; progress to stderr.
 */
import { CONTENDERS } from './contenders/index.js';
import { openRaw } from './contenders/raw.js';
import {
  CONCURRENT_CALLERS,
  WORKLOADS,
  type ContenderInstance,
  type Operations,
  type WorkloadName,
} from './contenders/types.js';
import { ARG_MASK, argumentTables, createFixture, defaultBaseDir, removeFixture } from './lib/db.js';
import { interleave, runCount, type Measurement, type Side } from './lib/measure.js';
import { diff, verify } from './lib/telemetry.js';

export interface WorkerResult {
  readonly contender: string;
  readonly workload: WorkloadName;
  /** What the raw side ran: the same work, or (acquire, concurrent) the one-caller point read. */
  readonly baseline: 'same work' | 'raw point read';
  readonly batch: number;
  readonly measurement: Measurement;
  /** Telemetry proof: the check run and the whole timed run (warm-up included). */
  readonly telemetry?: { readonly check: string; readonly timed: string };
}

export interface WorkerError {
  readonly contender: string;
  readonly workload?: WorkloadName;
  readonly message: string;
}

const SINGLE_BATCH = 16;
const CONCURRENT_PER_CALLER = 4;

let _sink: unknown;

function sideFor(ops: Operations, workload: WorkloadName): Side | undefined {
  const { ids, rangeStarts } = TABLES;
  if (ops.sync) {
    switch (workload) {
      case 'point':
        return {
          sync: true,
          batch: SINGLE_BATCH,
          run: (s, c) => {
            for (let i = 0; i < c; i++) _sink = ops.point(ids[(s + i) & ARG_MASK]!);
          },
        };
      case 'range':
        return {
          sync: true,
          batch: SINGLE_BATCH,
          run: (s, c) => {
            for (let i = 0; i < c; i++) _sink = ops.range(rangeStarts[(s + i) & ARG_MASK]!);
          },
        };
      case 'insert':
        return {
          sync: true,
          batch: SINGLE_BATCH,
          run: (s, c) => {
            for (let i = 0; i < c; i++) _sink = ops.insert(s + i);
          },
        };
      default:
        return undefined;
    }
  }
  switch (workload) {
    case 'point':
      return {
        sync: false,
        batch: SINGLE_BATCH,
        run: async (s, c) => {
          for (let i = 0; i < c; i++) _sink = await ops.point(ids[(s + i) & ARG_MASK]!);
        },
      };
    case 'range':
      return {
        sync: false,
        batch: SINGLE_BATCH,
        run: async (s, c) => {
          for (let i = 0; i < c; i++) _sink = await ops.range(rangeStarts[(s + i) & ARG_MASK]!);
        },
      };
    case 'insert':
      return {
        sync: false,
        batch: SINGLE_BATCH,
        run: async (s, c) => {
          for (let i = 0; i < c; i++) _sink = await ops.insert(s + i);
        },
      };
    case 'acquire': {
      const acquireRelease = ops.acquireRelease;
      if (!acquireRelease) return undefined;
      return {
        sync: false,
        batch: SINGLE_BATCH,
        run: async (_s, c) => {
          for (let i = 0; i < c; i++) await acquireRelease();
        },
      };
    }
    case 'concurrent': {
      const caller = async (s: number, n: number) => {
        for (let i = 0; i < n; i++) _sink = await ops.point(ids[(s + i) & ARG_MASK]!);
      };
      const callers: Promise<void>[] = new Array<Promise<void>>(CONCURRENT_CALLERS);
      return {
        sync: false,
        batch: CONCURRENT_CALLERS * CONCURRENT_PER_CALLER,
        run: async (s, c) => {
          const per = c / CONCURRENT_CALLERS;
          for (let k = 0; k < CONCURRENT_CALLERS; k++) callers[k] = caller(s + k * per, per);
          await Promise.all(callers);
        },
      };
    }
  }
}

const TABLES = argumentTables();

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number, got ${args[i + 1]}`);
  return v;
}

function emit(kind: '@@RESULT' | '@@ERROR', payload: WorkerResult | WorkerError): void {
  process.stdout.write(`${kind} ${JSON.stringify(payload)}\n`);
}

function us(ns: number): string {
  return `${(ns / 1000).toFixed(2)} µs`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const [name, workloadList] = args;
  const definition = name ? CONTENDERS[name] : undefined;
  if (!name || !definition || !workloadList) {
    process.stderr.write(
      `usage: worker.ts <contender> <workload[,workload...]> [--rounds N] [--round-ms N] [--warmup-ms N] [--check-ops N] [--dir DIR]\n` +
        `contenders: ${Object.keys(CONTENDERS).join(', ')}\nworkloads: ${WORKLOADS.join(', ')}\n`,
    );
    return 2;
  }
  const workloads = workloadList.split(',') as WorkloadName[];
  for (const w of workloads) {
    if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}; known: ${WORKLOADS.join(', ')}`);
  }
  const options = {
    rounds: flag(args, '--rounds', 20),
    roundMs: flag(args, '--round-ms', 100),
    warmupMs: flag(args, '--warmup-ms', 1000),
  };
  const checkOps = flag(args, '--check-ops', 512);
  const dirIndex = args.indexOf('--dir');
  const baseDir = dirIndex >= 0 && args[dirIndex + 1] ? args[dirIndex + 1]! : defaultBaseDir();

  const fixture = createFixture(baseDir);
  let failures = 0;
  let instance: ContenderInstance | undefined;
  const raw = openRaw(fixture.filename);
  try {
    try {
      instance = await definition.create(fixture.filename);
    } catch (error) {
      emit('@@ERROR', { contender: name, message: `could not start: ${describe(error)}` });
      return 1;
    }
    const rawPoint = sideFor(raw.ops, 'point')!;
    for (const workload of workloads) {
      if (!definition.workloads.includes(workload)) continue;
      const contenderSide = sideFor(instance.ops, workload);
      if (!contenderSide) continue;
      const sameWork = workload !== 'acquire' && workload !== 'concurrent';
      const rawSide = sameWork ? sideFor(raw.ops, workload)! : rawPoint;
      try {
        let telemetry: WorkerResult['telemetry'];
        const expectation = instance.expect?.(workload);
        const snap = instance.snapshot?.bind(instance);
        let before = snap ? await snap() : undefined;
        if (snap && expectation && before) {
          const ran = await runCount(contenderSide, checkOps);
          const check = verify(`${name} ${workload} check run`, expectation, ran, diff(await snap(), before));
          before = await snap();
          const measurement = await interleave(rawSide, contenderSide, options);
          const timed = verify(
            `${name} ${workload} timed run`,
            expectation,
            measurement.contenderOpsTotal,
            diff(await snap(), before),
          );
          // Span names may carry the temp file's path (instrumentation-knex): shorten it.
          const short = (text: string) => text.split(fixture.filename).join('<db>');
          telemetry = {
            check: `${ran} ops: ${short(check)}`,
            timed: `${measurement.contenderOpsTotal} ops: ${short(timed)}`,
          };
          report(name, workload, measurement, sameWork, contenderSide.batch, telemetry);
        } else {
          const measurement = await interleave(rawSide, contenderSide, options);
          report(name, workload, measurement, sameWork, contenderSide.batch, undefined);
        }
      } catch (error) {
        failures++;
        process.stderr.write(`\n!!! ${name} ${workload}: ${describe(error)}\n\n`);
        emit('@@ERROR', { contender: name, workload, message: describe(error) });
      }
    }
  } finally {
    await instance?.close().catch((error: unknown) => {
      process.stderr.write(`${name}: close failed: ${describe(error)}\n`);
    });
    raw.close();
    removeFixture(fixture.dir);
  }
  return failures > 0 ? 1 : 0;
}

function report(
  contender: string,
  workload: WorkloadName,
  measurement: Measurement,
  sameWork: boolean,
  batch: number,
  telemetry: WorkerResult['telemetry'],
): void {
  const m = measurement;
  process.stderr.write(
    `  ${contender.padEnd(24)} ${workload.padEnd(10)} mean ${us(m.contender.meanNs).padStart(11)}  raw ${us(m.raw.meanNs).padStart(10)}  ratio ${m.ratio.median.toFixed(2)}x (IQR ${m.ratio.q1.toFixed(2)}–${m.ratio.q3.toFixed(2)})${telemetry ? `  telemetry ok` : ''}\n`,
  );
  emit('@@RESULT', {
    contender,
    workload,
    baseline: sameWork ? 'same work' : 'raw point read',
    batch,
    measurement: m,
    ...(telemetry && { telemetry }),
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}

process.exitCode = await main();
