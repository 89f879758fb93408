import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { AcquireAbortedError, AcquireTimeoutError, ConnectionCreateError, DatabaseManager, OpenTimeoutError, PoolClosedError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { advance, tempDbPath, tempDir, track, trackDb, useFakeClock } from '../helpers/temp-db.js';
import { MODES, pool, seededFile, turn } from './support.js';

/**
 * The pool's first moments, as a caller meets them: the first getConnection() keeps its timeout
 * and its signal while the pool opens, close() never waits for an open that does not finish, and
 * a lock held elsewhere while the pool opens is waited for, not a failed initialize().
 */

/** An onConnect that settles only when the test says so. */
function heldOnConnect(): { onConnect: (db: Database.Database) => Promise<void>; release: () => void; handles: Database.Database[] } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handles: Database.Database[] = [];
  return {
    onConnect: (db) => {
      handles.push(db);
      return gate;
    },
    release: () => release(),
    handles,
  };
}

/** The pool's child processes (worker mode), by their script. */
function children(): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,args='])
      .toString()
      .split('\n')
      .filter((line) => line.includes('process-main'))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when it lists nothing
  }
}

afterEach(() => {
  // A process the pool failed to end must not outlive its test (the assertion below reports it).
  for (const pid of children()) process.kill(pid, 'SIGKILL');
});

describe('the first getConnection() while the pool opens', () => {
  test('an already-aborted signal is refused, even when a connection is idle', async () => {
    const db = pool();
    await db.initialize();
    expect(await captureRejection(db.getConnection({ signal: AbortSignal.abort() }))).toBeInstanceOf(AcquireAbortedError);
    expect(db.getConnectionStatsSync().usedConnections).toBe(0);
  });

  test('a signal aborted while the opening runs rejects the caller, and no lease is left behind', async () => {
    const open = heldOnConnect();
    const db = pool({ onConnect: open.onConnect, poolSize: 1 });
    const controller = new AbortController();
    const acquiring = captureRejection(db.getConnection({ signal: controller.signal }));
    controller.abort();
    expect(await acquiring).toBeInstanceOf(AcquireAbortedError);
    open.release();
    await db.initialize();
    expect(db.getConnectionStatsSync()).toMatchObject({ usedConnections: 0, pendingRequests: 0 });
  });

  test('timeoutMs bounds it too, and is counted as a timeout', async () => {
    useFakeClock();
    const open = heldOnConnect();
    const db = pool({ onConnect: open.onConnect, poolSize: 1 });
    const acquiring = captureRejection(db.getConnection({ timeoutMs: 50 }));
    await advance(50);
    expect(await acquiring).toBeInstanceOf(AcquireTimeoutError);
    open.release();
    await db.initialize();
    expect(db.getConnectionStatsSync()).toMatchObject({ usedConnections: 0, pendingRequests: 0, lifetime: { timeouts: 1 } });
  });

  test('a failed opening reaches every caller that waited for it with initialize()’s error', async () => {
    const db = pool({ filename: path.join(tempDir(), 'missing', 'app.db') });
    const errors = await Promise.all([captureRejection(db.getConnection()), captureRejection(db.getConnection())]);
    for (const error of errors) expect(error).toBeInstanceOf(ConnectionCreateError);
    expect(db.state).toBe('new');
  });
});

describe('an open that does not finish', () => {
  test('is abandoned after connectTimeoutMs: its handle closed, the failure counted, initialize() rejected', async () => {
    useFakeClock();
    const open = heldOnConnect();
    const db = pool({ onConnect: open.onConnect, connectTimeoutMs: 1000, poolSize: 1 });
    const initializing = captureRejection(db.initialize());
    await advance(1000);
    const error = await initializing;
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect((error as Error).cause).toBeInstanceOf(OpenTimeoutError);
    expect(open.handles.map((handle) => handle.open)).toEqual([false]);
    expect(db.getConnectionStatsSync().lifetime.openFailures).toBe(1);
  });

  function hangingModule(): string {
    const file = path.join(tempDir(), 'hang.mjs');
    fs.writeFileSync(file, 'export default function onConnect() { return new Promise(() => {}); }\n');
    return pathToFileURL(file).href;
  }

  describe.each(MODES)('%s mode', (mode) => {
    test('close() during it resolves, initialize() rejects with PoolClosedError, and no process is left', async () => {
      const db = track(new DatabaseManager({ filename: seededFile(), poolSize: 2, mode, onConnect: hangingModule() }));
      const initializing = captureRejection(db.initialize());
      // The open is under way: in worker mode, once its process runs.
      if (mode === 'worker') while (children().length < 2) await turn();
      else await turn();
      await db.close({ timeoutMs: 100 });
      expect(await initializing).toBeInstanceOf(PoolClosedError);
      expect(db.state).toBe('closed');
      expect(db.getConnectionStatsSync().lifetime.openFailures).toBe(0);
      expect(children()).toEqual([]);
    });
  });
});

describe('a lock held elsewhere while the pool opens', () => {
  /** Another connection (another process, in production) holding a lock until `release()`. */
  function holdLock(filename: string, setup: string, begin: string): { release: () => void } {
    const other = trackDb(new Database(filename));
    other.exec(setup);
    other.exec(begin);
    return { release: () => other.exec('COMMIT') };
  }

  test('initialize() on a file another connection is creating waits for it, instead of failing', async () => {
    const filename = tempDbPath();
    const lock = holdLock(filename, 'CREATE TABLE boot (x)', 'BEGIN EXCLUSIVE');
    const db = pool({ filename, busyTimeoutMs: 10_000 });
    const initializing = db.initialize();
    await turn();
    await turn();
    expect(db.state).toBe('opening'); // still waiting for the lock, not failed
    lock.release();
    await expect(initializing).resolves.toBeUndefined();
    expect(db.getConnectionStatsSync().lifetime.openFailures).toBe(0);
  });

  test('an onConnect that creates the schema waits for a write lock held elsewhere', async () => {
    const filename = tempDbPath();
    const setup = new Database(filename);
    setup.pragma('journal_mode = WAL');
    setup.close();
    const lock = holdLock(filename, 'CREATE TABLE IF NOT EXISTS other (x)', 'BEGIN IMMEDIATE');
    let attempts = 0;
    const db = pool({
      filename,
      busyTimeoutMs: 10_000,
      onConnect: (raw) => {
        attempts++;
        raw.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, v TEXT)');
      },
    });
    const initializing = db.initialize();
    while (attempts < 2) await turn(); // it met the lock and is trying again
    lock.release();
    await expect(initializing).resolves.toBeUndefined();
    expect(await db.get('SELECT count(*) AS n FROM items')).toEqual({ n: 0 });
  });

  test('a lock that outlasts busyTimeoutMs fails the open with SQLITE_BUSY as its cause', async () => {
    const filename = tempDbPath();
    holdLock(filename, 'CREATE TABLE boot (x)', 'BEGIN EXCLUSIVE');
    const db = pool({ filename, busyTimeoutMs: 0 });
    const error = await captureRejection(db.initialize());
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect((error as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });
  });
});
