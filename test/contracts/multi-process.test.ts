import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect, test } from 'vitest';
import { tempDbPath } from '../helpers/temp-db.js';

/**
 * DESIGN.md §5: the event loop never waits on a SQLite lock, whether the lock is held in this
 * process or another. Several processes (cluster mode, PM2, a cron job) with a pool each on one
 * WAL file run write transactions at once: none loses a commit, every failure is a typed error,
 * no process's event loop stalls, and each exits by itself after `close()`.
 */

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'writer-process.ts');
const DURATION_MS = 2500;
const CALLERS = 3;

interface WriterReport {
  processId: number;
  committed: number[];
  failures: Record<string, number>;
  untyped: number;
  elapsedMs: number;
  busyTimeouts: number[];
  maxStallMs: number;
}

function sharedFile(): string {
  const file = tempDbPath('shared.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE commits (tx INTEGER NOT NULL, process INTEGER NOT NULL, part INTEGER NOT NULL, PRIMARY KEY (tx, part))');
  db.close();
  return file;
}

/** Runs one writer process to its own end; a process that does not exit by itself fails the test. */
function runWriter(file: string, processId: number): Promise<WriterReport> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file, String(processId), String(CALLERS), String(DURATION_MS)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer ${processId} did not exit by itself within 20 s after its work (stderr: ${stderr})`));
    }, DURATION_MS + 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      if (code !== 0) reject(new Error(`writer ${processId} exited with ${code ?? signal}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim()) as WriterReport);
    });
  });
}

function rowsByTransaction(file: string): Map<number, number> {
  const db = new Database(file, { readonly: true });
  const parts = new Map<number, number>();
  for (const { tx, n } of db.prepare('SELECT tx, count(*) AS n FROM commits GROUP BY tx').all() as { tx: number; n: number }[]) parts.set(tx, n);
  db.close();
  return parts;
}

test('three processes write to one WAL file at once: no commit lost, typed failures only, no event-loop stall, each exits by itself', async () => {
  const alone = await runWriter(sharedFile(), 9);
  const file = sharedFile();
  const reports = await Promise.all([1, 2, 3].map((id) => runWriter(file, id)));
  const rows = rowsByTransaction(file);

  for (const report of reports) {
    expect(report.untyped, `process ${report.processId}: untyped failures`).toBe(0);
    for (const code of Object.keys(report.failures)) expect(code, `process ${report.processId}`).toMatch(/^SQLITE_/);
    // Every commit the process saw succeed is in the file, whole.
    for (const tx of report.committed) expect(rows.get(tx), `transaction ${tx} of process ${report.processId}`).toBe(2);
    expect(report.committed.length, `process ${report.processId} committed nothing`).toBeGreaterThan(0);
    // A lock held by another process is waited for asynchronously: no connection the pool lent
    // had SQLite's synchronous busy handler on, so the event loop never slept on a lock.
    expect(report.busyTimeouts, `process ${report.processId}: busy_timeout of the connections it was lent`).toEqual([0]);
    // The stall itself is reported below and only bounded loosely: on a loaded 2-core CI machine the
    // scheduler alone can hold a process for a few hundred ms, while one synchronous wait on the
    // lock these nine writers fight over (the busy timeout is 5 s) ran to 1.5 s in the first version.
    expect(report.maxStallMs, `process ${report.processId}: longest event-loop stall`).toBeLessThan(1000);
  }
  // And nothing else is: no half transaction, no commit nobody saw.
  const committed = new Set(reports.flatMap((r) => r.committed));
  for (const [tx, parts] of rows) {
    expect(parts, `transaction ${tx}`).toBe(2);
    expect(committed.has(tx), `transaction ${tx} is in the file but its process saw it fail`).toBe(true);
  }

  const throughput = (r: WriterReport): number => (r.committed.length / r.elapsedMs) * 1000;
  console.log(
    `multi-process: ${reports.map((r) => `process ${r.processId} ${throughput(r).toFixed(0)} tx/s, longest stall ${r.maxStallMs.toFixed(1)} ms, failures ${JSON.stringify(r.failures)}`).join('; ')}; ` +
      `together ${reports.reduce((n, r) => n + throughput(r), 0).toFixed(0)} tx/s; one process alone ${throughput(alone).toFixed(0)} tx/s (longest stall ${alone.maxStallMs.toFixed(1)} ms)`,
  );
}, 60_000);
