/**
 * `npm start` under a process manager: a container runtime or systemd signals the top process,
 * npm. The script is `exec node --import tsx examples/demo-service.ts`: `exec` replaces the
 * shell npm runs it in (Debian's sh would die of SIGTERM and orphan the demo), and tsx is a loader
 * in the demo's own process, not a CLI process of its own, so the chain is npm -> node and npm
 * forwards SIGTERM and SIGINT to node. Whichever process of the chain gets the signal, the demo
 * drains and npm exits 0 (it exits with the demo's code), with no process of the chain left.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Child, REPO_ROOT, demoEnv, freePort, pollUntil, post, requestJson, tempDir } from './demo-process.js';

interface Started {
  npm: Child;
  /** Every process of the chain, top first: npm, node, and what node started (tsx's esbuild service). */
  chain: number[];
  baseUrl: string;
  databaseFile: string;
}

const groups: number[] = [];
afterEach(() => {
  // Whatever a failed test left: the whole process group it started.
  for (const group of groups.splice(0)) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Parent pid of every process, from /proc (Linux). */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
      map.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  return map;
}

/** `pid` and its descendants, depth first. */
function chainOf(pid: number): number[] {
  const byParent = parents();
  const chain = [pid];
  for (let i = 0; i < chain.length; i++) for (const [child, parent] of byParent) if (parent === chain[i]) chain.push(child);
  return chain;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function npmStart(): Promise<Started> {
  const dir = tempDir('otel-sqlite-pool-npm-start-');
  const databaseFile = join(dir, 'demo.db');
  const env = demoEnv({
    PORT: '0',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
    DATABASE_URL: databaseFile,
    DEMO_SEED_USERS: '50',
    DEMO_LOAD: '0',
    DB_ACQUIRE_TIMEOUT: '1',
    DB_HEALTH_CHECK_INTERVAL: '1',
  });
  // Its own process group, as under a terminal or a service manager; `group` kills all of it after the test.
  const npm = new Child('npm start', spawn('npm', ['start'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  if (npm.process.pid !== undefined) groups.push(npm.process.pid);
  const ready = await npm.waitForLine(/^READY (http:\/\/\S+) metrics=\S+$/m, 30_000);
  const chain = chainOf(npm.process.pid!);
  return { npm, chain, baseUrl: ready[1]!, databaseFile };
}

/** The demo's node is npm's own child: no shell or tsx CLI process between them (node's esbuild service may hang below it). */
function expectShortChain(started: Started): void {
  const commands = started.chain.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean));
  const demo = commands.findIndex((args) => args.includes('examples/demo-service.ts'));
  expect(demo, JSON.stringify(commands)).toBe(1);
  expect(parents().get(started.chain[1]!)).toBe(started.chain[0]);
  expect(commands[1]![0]).toMatch(/(^|\/)node$/);
}

async function expectDrainedAndGone(started: Started): Promise<void> {
  const exit = await started.npm.waitForExit(20_000);
  expect(exit, started.npm.tail()).toEqual({ code: 0, signal: null });
  await pollUntil('no process of the chain is left', async () => (started.chain.some(alive) ? undefined : true), { timeoutMs: 5000 });
  // A drained demo puts a deleted database back (see faults.ts dispose()).
  expect(existsSync(started.databaseFile)).toBe(true);
}

describe('npm start: a signal to any process of its chain drains the demo and exits 0', () => {
  it('SIGTERM to npm, the top process', async () => {
    const started = await npmStart();
    expectShortChain(started);
    process.kill(started.chain[0]!, 'SIGTERM');
    await expectDrainedAndGone(started);
  }, 40_000);

  it('SIGINT to npm', async () => {
    const started = await npmStart();
    process.kill(started.chain[0]!, 'SIGINT');
    await expectDrainedAndGone(started);
  }, 40_000);

  it('SIGTERM to node, the demo itself', async () => {
    const started = await npmStart();
    process.kill(started.chain[1]!, 'SIGTERM');
    await expectDrainedAndGone(started);
  }, 40_000);

  it('Ctrl-C (SIGINT to the whole group) while a request waits: one drain, the request answered, exit 0', async () => {
    const started = await npmStart();
    const url = (path: string): string => `${started.baseUrl}${path}`;
    // A request that waits in the pool's queue: no connection can open while the file is gone.
    expect((await post(url('/faults/delete-db'))).status).toBe(200);
    await pollUntil('/healthz answers 503', async () => ((await requestJson(url('/healthz'))).status === 503 ? true : undefined));
    const waiting = requestJson<{ error: string }>(url('/users/3'));
    await pollUntil('the request waits for a connection', async () =>
      (await requestJson<{ pendingRequests: number }>(url('/stats'))).body.pendingRequests >= 1 ? true : undefined,
    );
    // The terminal signals every process of the group, and npm forwards its copy to node: node gets SIGINT twice.
    process.kill(-started.chain[0]!, 'SIGINT');
    expect((await waiting).status).toBe(503);
    await expectDrainedAndGone(started);
  }, 40_000);
});
