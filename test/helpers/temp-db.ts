import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, vi } from 'vitest';
import type { Logger } from '../../src/logger.js';

/**
 * Test helpers: a temp directory per test (removed after it), pools closed after each test, a
 * logger that records what the pool says, and fake timers that also drive `performance.now()`.
 *
 * Cleanup order matters and lives in one hook: real timers first (a pool closing with a lease out
 * waits on a timer), then the pools, then the directories.
 */

const dirs: string[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch {
      // a test may have closed it already, or broken it on purpose
    }
  }
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed after the test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-sqlite-pool-test-'));
  dirs.push(dir);
  return dir;
}

/** A database path in a fresh temp directory (the file does not exist yet). */
export function tempDbPath(name = 'test.db'): string {
  return path.join(tempDir(), name);
}

/** Closes `pool` after the test (with no grace period for leases left out). */
export function track<T extends { close(options?: { timeoutMs?: number }): Promise<unknown> }>(pool: T): T {
  closers.push(() => pool.close({ timeoutMs: 0 }));
  return pool;
}

/** Closes a raw better-sqlite3 handle after the test. */
export function trackDb<T extends { open: boolean; close(): unknown }>(db: T): T {
  closers.push(async () => {
    if (db.open) db.close();
  });
  return db;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface LogEntry {
  level: LogLevel;
  message: string;
  details: unknown[];
}

/** A logger that keeps every entry, with filters for assertions. */
export interface CapturingLogger extends Logger {
  readonly entries: LogEntry[];
  messages(level?: LogLevel): string[];
  clear(): void;
}

export function captureLogger(): CapturingLogger {
  const entries: LogEntry[] = [];
  const at = (level: LogLevel) => (message: string, ...details: unknown[]): void => {
    entries.push({ level, message, details });
  };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    messages: (level) => entries.filter((e) => level === undefined || e.level === level).map((e) => e.message),
    clear: () => {
      entries.length = 0;
    },
  };
}

/**
 * Fake timers that also fake `performance.now()` (the pool's clock) and `Date`. `setImmediate`
 * stays real, so `await`-ing between monitoring batches works without advancing anything.
 */
export function useFakeClock(): void {
  vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
}

/** Advances the fake clock and lets promise callbacks run. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/** Lets pending promise callbacks (and one macrotask turn) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export { settled } from './settled.js';
