import { describe, expect, test } from 'vitest';
import Database from 'better-sqlite3';
import {
  DatabaseManager,
  QueryTimeoutError,
  SqlitePoolError,
  WorkerExitedError,
  type DatabaseManagerOptions,
  type HealthyConnection,
} from '../../src/index.js';
import type { ProcessBackend } from '../../src/backend/process-backend.js';
import { captureLogger, tempDbPath, track, type CapturingLogger } from '../helpers/temp-db.js';

/**
 * Worker mode runs every connection in its own worker process. These tests run real worker
 * processes on real files: the same API in both modes, timeouts that stop runaway SQL, crashes
 * that are detected and replaced, and nothing left running after close().
 */

/** A recursive CTE that never ends: SQLite would run it forever. */
const RUNAWAY = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c';

async function openPool(mode: 'thread' | 'worker', options: Partial<DatabaseManagerOptions> = {}, logger: CapturingLogger = captureLogger()) {
  const filename = tempDbPath();
  const seed = new Database(filename);
  seed.pragma('journal_mode = WAL');
  seed.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, avatar BLOB, big INTEGER, note TEXT)');
  seed.prepare('INSERT INTO users (name, avatar, big, note) VALUES (?, ?, ?, ?)').run('ada', Buffer.from([1, 2, 3]), 9007199254740993n, null);
  seed.close();
  const db = track(new DatabaseManager({ filename, poolSize: 3, mode, logger, ...options, healthCheckConfig: { minHealthyConnections: 1, ...(options.healthCheckConfig ?? {}) } }));
  await db.initialize();
  return { db, filename, logger };
}

/** The pool's side of a worker connection (its process), for tests that watch the process itself. */
function processOf(connection: HealthyConnection): ProcessBackend {
  return connection.backend as ProcessBackend;
}

/** Settles once the pool has noticed that the connection's process stopped on its own. */
function lost(connection: HealthyConnection): Promise<void> {
  const backend = processOf(connection);
  const previous = backend.onLost;
  return new Promise((resolve) => {
    backend.onLost = (reason) => {
      previous?.(reason);
      resolve();
    };
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function workerPid(connection: HealthyConnection): number {
  const pid = connection.processId;
  if (pid === undefined) throw new Error(`${connection.connectionId} has no worker process`);
  return pid;
}

describe.each(['thread', 'worker'] as const)('the async API in %s mode', (mode) => {
  test('shortcuts, lease methods, iterate and transactions give what better-sqlite3 gives', async () => {
    const { db } = await openPool(mode);
    const row = await db.get<{ id: number; name: string; avatar: Buffer; big: number; note: null }>('SELECT * FROM users WHERE id = ?', [1]);
    expect(row).toEqual({ id: 1, name: 'ada', avatar: Buffer.from([1, 2, 3]), big: 9007199254740992, note: null });
    expect(Buffer.isBuffer(row?.avatar)).toBe(true);
    const safe = await db.get<{ big: bigint }>('SELECT big FROM users WHERE id = ?', [1], { safeIntegers: true });
    expect(safe?.big).toBe(9007199254740993n);
    // safeIntegers applies to that call only: the cached statement is back to numbers.
    expect((await db.get<{ big: unknown }>('SELECT big FROM users WHERE id = ?', [1]))?.big).toBe(9007199254740992);

    const inserted = await db.run('INSERT INTO users (name, avatar) VALUES (?, ?)', ['bob', Buffer.from('png')]);
    expect(inserted.changes).toBe(1);
    expect(Buffer.from('png').equals((await db.get<{ avatar: Buffer }>('SELECT avatar FROM users WHERE name = ?', ['bob']))?.avatar as Buffer)).toBe(true);

    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO users (name) VALUES (?)', ['carol']);
      expect(tx.inTransaction).toBe(true);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO users (name) VALUES (?)', ['dave']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.all('SELECT name FROM users ORDER BY id')).toEqual([{ name: 'ada' }, { name: 'bob' }, { name: 'carol' }]);

    await using lease = await db.getConnection();
    const names: string[] = [];
    for await (const user of lease.iterate<{ name: string }>('SELECT name FROM users ORDER BY id', undefined, { batchSize: 2 })) names.push(user.name);
    expect(names).toEqual(['ada', 'bob', 'carol']);
    await lease.exec('CREATE TABLE IF NOT EXISTS notes (body TEXT)');
    expect(await lease.all('SELECT name FROM sqlite_master WHERE name = ?', ['notes'])).toEqual([{ name: 'notes' }]);
  });

  test('SQL errors reach the caller as SqliteError with their code and leave the connection healthy', async () => {
    const { db } = await openPool(mode);
    const error = await db.get('SELECT * FROM missing_table').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Database.SqliteError);
    expect((error as { code: string }).code).toBe('SQLITE_ERROR');
    expect((error as Error).message).toContain('no such table: missing_table');
    const stats = await db.getConnectionStats();
    expect(stats.lifetime.closed.error + stats.lifetime.closed.unhealthy).toBe(0);
    expect(stats.healthyConnections).toBe(stats.totalConnections);
  });

  test('usage counts statements and query time is their time', async () => {
    const { db } = await openPool(mode, { poolSize: 1 });
    await db.get('SELECT 1 AS one');
    await db.all('SELECT * FROM users');
    const [connection] = [...db.connections()];
    expect(connection?.metrics.usageCount).toBe(2);
    expect(connection?.metrics.totalQueryTimeMs).toBeGreaterThan(0);
  });
});

describe('worker mode', () => {
  test('the raw better-sqlite3 handle exists in the in-thread mode only, with an error that says so', async () => {
    const { db } = await openPool('worker');
    await using lease = await db.getConnection();
    expect(() => lease.connection).toThrow(SqlitePoolError);
    expect(() => lease.connection).toThrow(/in-thread mode only/);
    expect(workerPid(lease.healthyConnection)).toBeGreaterThan(0);
  });

  test('timeoutMs stops a runaway statement with QueryTimeoutError; its worker is killed and replaced, the others untouched', async () => {
    const { db } = await openPool('worker', { healthCheckConfig: { minHealthyConnections: 2 } });
    const [first, second] = [...db.connections()];
    if (first === undefined || second === undefined) throw new Error('expected two connections');
    const pids = [workerPid(first), workerPid(second)];

    await using bystander = await db.getConnection();
    await using victim = await db.getConnection();
    const victimPid = workerPid(victim.healthyConnection);
    const error = await victim.get(RUNAWAY, undefined, { timeoutMs: 150 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(QueryTimeoutError);
    expect((error as QueryTimeoutError).code).toBe('SQLITE_POOL_QUERY_TIMEOUT');
    expect((error as QueryTimeoutError).timeoutMs).toBe(150);
    expect(victim.healthyConnection.status).toBe('unhealthy');
    // The bystander's worker still answers.
    expect(await bystander.get('SELECT 41 + 1 AS answer')).toEqual({ answer: 42 });
    expect(pids).toContain(victimPid);

    const victimExited = processOf(victim.healthyConnection).exited;
    const bystanderPid = workerPid(bystander.healthyConnection);
    victim.release();
    bystander.release();
    const stats = await db.getConnectionStats();
    expect(stats.lifetime.closed.error).toBe(1);
    await victimExited;
    expect(isAlive(victimPid)).toBe(false);
    expect(isAlive(bystanderPid)).toBe(true);
    // The pool keeps serving.
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 1 });
  });

  test('the pool default queryTimeoutMs applies to the shortcuts', async () => {
    const { db } = await openPool('worker', { queryTimeoutMs: 150 });
    await expect(db.get(RUNAWAY)).rejects.toBeInstanceOf(QueryTimeoutError);
    expect((await db.getConnectionStats()).lifetime.closed.error).toBe(1);
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
  });

  test('a probe slower than timeoutMs fails, its worker is killed and replaced; other connections are untouched', async () => {
    const { db, logger } = await openPool('worker', { healthCheckConfig: { minHealthyConnections: 2, timeoutMs: 1000 } });
    const [first, second] = [...db.connections()];
    if (first === undefined || second === undefined) throw new Error('expected two connections');
    // A temp table exists on one connection only, so only that connection's probe runs away.
    {
      await using slow = await db.getConnection();
      await using other = await db.getConnection();
      await slow.exec('CREATE TEMP TABLE slow_probe (x)');
      expect(other.connectionId).not.toBe(slow.connectionId);
    }
    const slowConnection = [...db.connections()].find((c) => c.connectionId === first.connectionId || c.connectionId === second.connectionId);
    expect(slowConnection).toBeDefined();
    db.healthCheckConfig.query = `SELECT CASE WHEN EXISTS (SELECT 1 FROM temp.sqlite_master WHERE name = 'slow_probe') THEN (${RUNAWAY}) ELSE 1 END`;
    db.healthCheckConfig.timeoutMs = 200;
    const pidsBefore = new Map([...db.connections()].map((c) => [c.connectionId, workerPid(c)]));
    const exits = [...db.connections()].map((c) => processOf(c).exited);

    const cycle = await db.healthManager.runCycle();
    expect(cycle.probed).toBe(2);
    expect(cycle.failed).toBe(1);
    const failure = logger.messages('warn').find((message) => message.includes('Health check failed'));
    expect(failure).toMatch(/timeoutMs \(200 ms\)/);
    const stats = await db.getConnectionStats();
    expect(stats.lifetime.closed.error).toBe(1); // killed on the probe's timeout: the connection broke
    const survivors = [...db.connections()].filter((c) => pidsBefore.has(c.connectionId));
    expect(survivors).toHaveLength(1);
    expect(workerPid(survivors[0] as HealthyConnection)).toBe(pidsBefore.get((survivors[0] as HealthyConnection).connectionId));
    // The killed worker is gone (wait for the one exit that must have happened).
    await Promise.race(exits.filter((exited) => exited !== undefined));
    for (const [id, pid] of pidsBefore) if (!survivors.some((c) => c.connectionId === id)) expect(isAlive(pid)).toBe(false);
  });

  test('a worker that crashes is detected: its lease fails with WorkerExitedError and the pool replaces it', async () => {
    const { db } = await openPool('worker', { healthCheckConfig: { minHealthyConnections: 2 } });
    const lease = await db.getConnection();
    const pid = workerPid(lease.healthyConnection);
    const stopped = lost(lease.healthyConnection);
    process.kill(pid, 'SIGKILL');
    await stopped;
    const error = await lease.get('SELECT 1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkerExitedError);
    expect((error as WorkerExitedError).message).toMatch(/killed by SIGKILL/);
    lease.release();
    expect((await db.getConnectionStats()).lifetime.closed.error).toBe(1);
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });

    // An idle worker that dies is replaced without anyone touching it.
    const idle = [...db.connections()][0];
    if (idle === undefined) throw new Error('expected a connection');
    const idleStopped = lost(idle);
    process.kill(workerPid(idle), 'SIGKILL');
    await idleStopped;
    expect([...db.connections()].some((c) => c.connectionId === idle.connectionId)).toBe(false);
    expect((await db.getConnectionStats()).lifetime.closed.error).toBe(2);
  });

  test('a lease released inside an open transaction is rolled back in its worker before reuse', async () => {
    const { db } = await openPool('worker', { poolSize: 1 });
    const lease = await db.getConnection();
    await lease.run('BEGIN IMMEDIATE');
    await lease.run('INSERT INTO users (name) VALUES (?)', ['ghost']);
    expect(lease.inTransaction).toBe(true);
    lease.release();
    await using next = await db.getConnection();
    expect(next.inTransaction).toBe(false);
    expect(await next.get('SELECT count(*) AS n FROM users WHERE name = ?', ['ghost'])).toEqual({ n: 0 });
  });

  test('close() leaves no worker process behind', async () => {
    const { db } = await openPool('worker', { healthCheckConfig: { minHealthyConnections: 3 } });
    const pids = [...db.connections()].map(workerPid);
    expect(pids).toHaveLength(3);
    expect(pids.every(isAlive)).toBe(true);
    await db.close();
    expect(pids.some(isAlive)).toBe(false);
  });

  test('a function cannot cross into a worker: a ConfigurationError names onConnect and says to give a module', () => {
    expect(() => new DatabaseManager({ filename: tempDbPath(), mode: 'worker', onConnect: () => {} })).toThrow(/onConnect.*module specifier/);
    expect(() => new DatabaseManager({ filename: tempDbPath(), mode: 'fork' as never })).toThrow(/Invalid mode: "fork"/);
  });
});
