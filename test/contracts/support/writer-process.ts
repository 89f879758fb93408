/**
 * One process of the multi-process contract test: a pool on the shared WAL file, `callers`
 * concurrent write transactions for `durationMs`, the event loop's longest stall measured the
 * whole time. It prints one JSON line (what it committed, how it failed, the stall) and then must
 * exit by itself: after `close()` nothing of the pool may keep it alive.
 *
 *   node --import tsx writer-process.ts <file> <process-id> <callers> <durationMs>
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseManager } from '../../../src/index.js';

const [file, processArg, callersArg, durationArg] = process.argv.slice(2);
const processId = Number(processArg);
const callers = Number(callersArg);
const durationMs = Number(durationArg);

const db = new DatabaseManager({ filename: file, poolSize: callers, fileMustExist: true });
await db.initialize();
// Measured from here: start-up (loading modules, opening connections) is not the pool waiting on a lock.
const stalls = monitorEventLoopDelay({ resolution: 5 });
stalls.enable();

const committed: number[] = [];
const failures: Record<string, number> = {};
let untyped = 0;
let next = 0;
// The state that makes a stall impossible: every connection the pool lends keeps SQLite's own
// (synchronous) busy handler off, so a lock held by another process is waited for by the pool.
const busyTimeouts = new Set<number>();
const startedAt = performance.now();

async function caller(): Promise<void> {
  while (performance.now() - startedAt < durationMs) {
    const tx = processId * 1_000_000 + next++;
    try {
      // Two rows per transaction, with an await between them: the lock is held across turns of
      // the event loop, as a real service's transactions hold it.
      await db.transaction(async (lease) => {
        busyTimeouts.add(lease.connection.pragma('busy_timeout', { simple: true }) as number);
        await lease.run('INSERT INTO commits (tx, process, part) VALUES (?, ?, 1)', [tx, processId]);
        await new Promise((resolve) => setImmediate(resolve));
        await lease.run('INSERT INTO commits (tx, process, part) VALUES (?, ?, 2)', [tx, processId]);
      });
      committed.push(tx);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && error instanceof Error) failures[code] = (failures[code] ?? 0) + 1;
      else untyped++;
    }
  }
}

await Promise.all(Array.from({ length: callers }, () => caller()));
const elapsedMs = performance.now() - startedAt;
stalls.disable();
await db.close();
process.stdout.write(
  `${JSON.stringify({ processId, committed, failures, untyped, elapsedMs, busyTimeouts: [...busyTimeouts], maxStallMs: stalls.max / 1e6 - 5 })}\n`,
);
