/**
 * The package as a user gets it: `npm pack`, installed into a fresh temporary project, then used
 * the way the README says. Runs on every Node version of CI (20, 22, 24); see pack-cache.ts for
 * what is reused so that it stays quick (the tarball across versions, better-sqlite3's binary).
 *
 * First with the core alone (no SDK): the production tree, strict TypeScript consumers, require()
 * and import, the contents of the tarball, and the setup and register entries refusing to start
 * with the npm install line they need. Then after running exactly that line: register exporting
 * a span over OTLP to a loopback receiver, and a typed setup consumer.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startChild, stopAll, tempDir } from '../demo/demo-process.js';
import { otlpEnvironment, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import * as files from './consumer-files.js';
import { localPrebuilds, packedTarball } from './pack-cache.js';

/** At most this many packages besides better-sqlite3's own tree (issue 13; 18 before the SDK became optional). */
const MAX_PRODUCTION_PACKAGES = 10;
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let project: string;
let tarball: string;
let tarballEntries: string[];
let env: NodeJS.ProcessEnv;
const timings: Record<string, number> = {};

function timed<T>(label: string, fn: () => T): T {
  const started = performance.now();
  try {
    return fn();
  } finally {
    timings[label] = Math.round(performance.now() - started);
  }
}

function npm(args: string[]): string {
  return execFileSync('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function node(args: string[], extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { cwd: project, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 30_000 });
}

function tsc(config: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [TSC, '-p', config], { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
}

function write(name: string, content: string): string {
  const path = join(project, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

interface NpmLsNode {
  version?: string;
  dependencies?: Record<string, NpmLsNode>;
}

/** Every `name@version` of the tree under `deps`. */
function packagesIn(deps: Record<string, NpmLsNode> | undefined, into = new Set<string>()): Set<string> {
  for (const [name, info] of Object.entries(deps ?? {})) {
    // An optional peer that is not installed is listed without a version.
    if (info.version === undefined) continue;
    into.add(`${name}@${info.version}`);
    packagesIn(info.dependencies, into);
  }
  return into;
}

beforeAll(() => {
  project = tempDir('otel-sqlite-pool-consumer-');
  // The Node running this test runs npm and the scripts too (under .ci/other-node that is 22 or 24).
  env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(OTEL_|NODE_OPTIONS$|VITEST|npm_)/.test(key))),
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    npm_config_better_sqlite3_local_prebuilds: localPrebuilds(),
  };
  const packed = timed('pack', () => packedTarball());
  tarball = packed.path;
  tarballEntries = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((entry) => entry.replace(/^package\//, ''));
  write('package.json', JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  timed('install', () => npm(['install', tarball]));
}, 300_000);

afterAll(async () => {
  await stopAll();
  // The measurements, for the report and for anyone wondering where the time goes.
  process.stdout.write(`pack test on Node ${process.version}: ${JSON.stringify(timings)} (ms)\n`);
});

describe(`the packed package in a fresh project (Node ${process.version})`, () => {
  it(`installs a production tree of at most ${MAX_PRODUCTION_PACKAGES} packages besides better-sqlite3's own`, () => {
    const tree = JSON.parse(npm(['ls', '--omit=dev', '--all', '--json'])) as NpmLsNode;
    const all = packagesIn(tree.dependencies);
    const betterSqlite = tree.dependencies?.['otel-sqlite-pool']?.dependencies?.['better-sqlite3'];
    expect(betterSqlite, 'better-sqlite3 is installed').toBeDefined();
    const ofBetterSqlite = packagesIn(betterSqlite?.dependencies, new Set([`better-sqlite3@${betterSqlite?.version ?? '?'}`]));
    const others = [...all].filter((p) => !ofBetterSqlite.has(p)).sort();
    process.stdout.write(`production tree: ${all.size} packages, ${others.length} besides better-sqlite3's ${ofBetterSqlite.size}: ${others.join(', ')}\n`);
    expect(others.length, others.join(', ')).toBeLessThanOrEqual(MAX_PRODUCTION_PACKAGES);
    expect(others.some((p) => p.startsWith('@opentelemetry/api@'))).toBe(true);
    expect(others.filter((p) => p.startsWith('@opentelemetry/') && !p.startsWith('@opentelemetry/api@'))).toEqual([]);
  });

  it('holds dist, its sources and docs, and no tests, databases or dangling source maps', () => {
    for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/api.md', 'dist/index.js', 'dist/index.d.ts', 'dist/setup.js', 'dist/register.js', 'src/index.ts']) {
      expect(tarballEntries, required).toContain(required);
    }
    const forbidden = tarballEntries.filter((entry) => /(^|\/)(test|tests|__tests__)\/|\.test\.|\.db$|\.db-(wal|shm)$|\.sqlite3?$|\.tgz$|(^|\/)node_modules\//.test(entry));
    expect(forbidden).toEqual([]);

    const installed = join(project, 'node_modules', 'otel-sqlite-pool');
    const maps = tarballEntries.filter((entry) => entry.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const resolved = posix.normalize(posix.join(posix.dirname(map), source));
        expect(tarballEntries, `${map} -> ${source}`).toContain(resolved);
      }
    }
    // Every file that names a map has it.
    for (const entry of tarballEntries.filter((e) => /\.(js|d\.ts)$/.test(e))) {
      const match = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(installed, entry), 'utf8'));
      if (match !== null) expect(tarballEntries, `${entry} -> ${match[1]}`).toContain(posix.join(posix.dirname(entry), match[1]!));
    }
  });

  it('type-checks strict ES module and CommonJS consumers with skipLibCheck off, and catches a misspelt better-sqlite3 method', () => {
    write('typed/esm.mts', files.TYPED_ESM);
    write('typed/cjs.cts', files.TYPED_CJS);
    write('typed/tsconfig.json', files.tsconfig(['esm.mts', 'cjs.cts']));
    const good = timed('tsc', () => tsc('typed/tsconfig.json'));
    expect(good.stdout + good.stderr).toBe('');
    expect(good.status).toBe(0);

    write('wrong/misuse.mts', files.TYPE_ERROR);
    write('wrong/tsconfig.json', files.tsconfig(['misuse.mts']));
    const wrong = tsc('wrong/tsconfig.json');
    expect(wrong.status).not.toBe(0);
    const errors = wrong.stdout.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/misuse\.mts.*error TS2339: Property 'thisMethodDoesNotExist' does not exist on type 'Database'/);
  }, 120_000);

  it('loads with require() and with import, and a quick start exits by itself', () => {
    const expected = { name: 'Ada', initialized: true, maxPoolSize: 2 };
    for (const [file, source] of [['quick-start.cjs', files.QUICK_START_CJS], ['quick-start.mjs', files.QUICK_START_ESM]] as const) {
      write(file, source);
      const run = node([file]);
      expect(run.status, `${file}: ${run.stderr}`).toBe(0);
      expect(run.signal, 'exited by itself, not killed at the timeout').toBeNull();
      expect(JSON.parse(run.stdout.trim()), file).toEqual(expected);
      expect(run.stderr, `${file}: no warning (require(esm) is not experimental on this Node)`).toBe('');
    }
    const entries = node(['-e', "for (const e of ['otel-sqlite-pool', 'otel-sqlite-pool/setup', 'otel-sqlite-pool/package.json']) require(e); console.log('ok')"]);
    expect(entries.status, entries.stderr).toBe(0);
  });

  it('without the SDK: setup rejects and register stops, both naming the exact npm install line', () => {
    const peers = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> }).peerDependencies;
    const line = `npm install @opentelemetry/sdk-node@${peers['@opentelemetry/sdk-node']} @opentelemetry/exporter-prometheus@${peers['@opentelemetry/exporter-prometheus']}`;
    const setup = node([
      '--input-type=module',
      '-e',
      "import { startTelemetry } from 'otel-sqlite-pool/setup'; await startTelemetry().then(() => console.log('started'), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, installCommand: e.installCommand, message: e.message })));",
    ]);
    expect(setup.status, setup.stderr).toBe(0);
    const refusal = JSON.parse(setup.stdout) as { name: string; code: string; installCommand: string; message: string };
    expect(refusal).toMatchObject({ name: 'MissingSdkError', code: 'SQLITE_POOL_SDK_MISSING', installCommand: line });
    expect(refusal.message).toContain(line);

    const register = node(['--import', 'otel-sqlite-pool/register', '-e', "console.log('app ran')"]);
    expect(register.status).not.toBe(0);
    expect(register.stdout).not.toContain('app ran');
    expect(register.stderr).toContain('npm install @opentelemetry/sdk-node@');
    write('sdk-install-line.txt', line);
  });
});

describe(`after the install line: the SDK entries (Node ${process.version})`, () => {
  beforeAll(() => {
    const line = readFileSync(join(project, 'sdk-install-line.txt'), 'utf8');
    timed('install-sdk', () => npm(line.split(' ').slice(1)));
  }, 300_000);

  it('node --import otel-sqlite-pool/register (and --require) exports the pool span over OTLP to a loopback receiver', async () => {
    const receiver = await startOtlpReceiver();
    try {
      write('register-app.mjs', files.REGISTER_APP_ESM);
      write('register-app.cjs', files.REGISTER_APP_CJS);
      for (const [flag, app] of [['--import', 'register-app.mjs'], ['--require', 'register-app.cjs']] as const) {
        const child = startChild(`register ${flag}`, process.execPath, [flag, 'otel-sqlite-pool/register', app], {
          cwd: project,
          env: { ...env, ...otlpEnvironment(receiver, `consumer${flag}`) },
        });
        const exit = await child.waitForExit(30_000);
        expect(exit, child.tail()).toEqual({ code: 0, signal: null });
        const spans = receiver.spans.filter((s) => s.serviceName === `consumer${flag}` && s.scope === 'otel-sqlite-pool' && s.kind === 3);
        expect(spans.map((s) => s.name), flag).toContain('SELECT');
      }
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('type-checks and runs a strict setup consumer: metricsUrl is a string, the endpoint serves', () => {
    write('setup/consumer.mts', files.TYPED_SETUP);
    write('setup/tsconfig.json', files.tsconfig(['consumer.mts']));
    const checked = tsc('setup/tsconfig.json');
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
    // Node runs the .mts file? No: strip nothing, run the same code as plain JavaScript.
    write('setup/consumer.mjs', files.TYPED_SETUP.replace('const url: string =', 'const url ='));
    const run = node(['setup/consumer.mjs']);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ status: 200, scraped: true, error: 'MissingSdkError' });
  }, 120_000);
});

it('the consumer project is where the test put it', () => {
  expect(existsSync(join(project, 'node_modules', 'otel-sqlite-pool', 'package.json'))).toBe(true);
});
