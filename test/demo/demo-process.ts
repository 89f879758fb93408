/**
 * Helpers for tests that run the demo service (and other servers) as real child processes: start
 * one, wait for a line it prints, poll an HTTP endpoint with a deadline, and make sure every
 * process started here is killed, even when a test fails.
 *
 * No fixed sleeps: tests wait for output lines, exit events, or poll a server until a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output captured. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  #stdout = '';
  #stderr = '';
  #exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  readonly #listeners = new Set<() => void>();

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.process = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      this.#notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#notify();
    });
    this.exited = new Promise<Exit>((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolveExit(this.#exit);
        this.#notify();
      });
      child.once('error', (error) => {
        this.#stderr += `\n[spawn error] ${error.message}\n`;
        this.#exit ??= { code: null, signal: null };
        resolveExit(this.#exit);
        this.#notify();
      });
    });
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** The last lines of output, for failure messages. */
  tail(lines = 40): string {
    const last = (text: string): string => text.split('\n').slice(-lines).join('\n');
    return `--- ${this.name} stdout (tail) ---\n${last(this.#stdout)}\n--- ${this.name} stderr (tail) ---\n${last(this.#stderr)}`;
  }

  /** Resolves with the first match of `pattern` in stdout (already printed or printed later). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolveMatch, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.#stdout);
        if (match !== null) {
          done();
          resolveMatch(match);
        } else if (this.#exit !== undefined) {
          done();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.#exit)}) before printing ${pattern}\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Waits for the process to exit, failing after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.process.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolveKill) => {
      timer = setTimeout(() => {
        if (this.running) this.process.kill('SIGKILL');
        resolveKill();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

const children = new Set<Child>();
const dirs = new Set<string>();

// Last line of defence: a test runner that dies must not leave servers behind.
process.once('exit', () => {
  for (const child of children) if (child.running) child.process.kill('SIGKILL');
});

/** Starts a tracked child process (stopped by {@link stopAll}). */
export function startChild(name: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  const child = new Child(
    name,
    spawn(command, [...args], { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  children.add(child);
  return child;
}

/** Stops every child this module started (SIGTERM, then SIGKILL) and removes the temp dirs. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** A temp directory removed by {@link stopAll}. */
export function tempDir(prefix = 'otel-sqlite-pool-demo-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for servers that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The environment of a demo child: the test's own, minus anything that would configure the demo behind the test's back. */
export function demoEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OTEL_|DB_|DEMO_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_OPTIONS$|VITEST)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...overrides };
}

export interface Demo {
  child: Child;
  /** e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  metricsUrl: string;
  databaseFile: string;
}

/**
 * Starts `node --import tsx examples/demo-service.ts` on PORT=0, a free Prometheus port and a
 * fresh database in a temp dir, and waits for its READY line.
 */
export async function startDemo(options: { env?: Record<string, string>; args?: string[]; name?: string; readyTimeoutMs?: number } = {}): Promise<Demo> {
  const dir = tempDir();
  const databaseFile = join(dir, 'demo.db');
  const metricsPort = await freePort();
  const env = demoEnv({
    PORT: '0',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    DATABASE_URL: databaseFile,
    DEMO_SEED_USERS: '200',
    DEMO_LOAD: '0',
    ...options.env,
  });
  const child = startChild(options.name ?? 'demo', process.execPath, ['--import', 'tsx', 'examples/demo-service.ts', ...(options.args ?? [])], { env });
  const ready = await child.waitForLine(/^READY (http:\/\/\S+) metrics=(\S+)$/m, options.readyTimeoutMs ?? 30_000);
  return { child, baseUrl: ready[1] ?? '', metricsUrl: ready[2] ?? '', databaseFile };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP request with a JSON answer (no keep-alive, so a draining server is never kept waiting). */
export async function requestJson<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, { ...init, headers: { connection: 'close', ...init.headers } });
  const text = await response.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${response.status} with non-JSON: ${text.slice(0, 500)}`);
  }
  return { status: response.status, body, headers: response.headers };
}

export function post<T = Record<string, unknown>>(url: string, body?: unknown): Promise<JsonResponse<T>> {
  return requestJson<T>(url, {
    method: 'POST',
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
}

/**
 * Calls `probe` every `intervalMs` until it returns something other than `undefined`, or fails
 * after `timeoutMs` with the last value or error it saw. For asking a server until it agrees.
 */
export async function pollUntil<T>(
  description: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
      last = 'no match yet';
    } catch (error) {
      last = error;
    }
    if (performance.now() >= deadline) {
      const detail = last instanceof Error ? last.message : String(last);
      throw new Error(`Timed out after ${timeoutMs} ms waiting until ${description} (last: ${detail})`);
    }
    await delay(intervalMs);
  }
}
