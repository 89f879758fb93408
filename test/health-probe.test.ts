import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { HealthyConnection, type HealthCheckOptions } from '../src/index.js';
import { fileIdentityOf } from '../src/backend/probe.js';
import { tempDbPath, trackDb } from './helpers/temp-db.js';

/** The guide's four strategies, as configured queries. */
const STRATEGIES = {
  quick: { query: 'SELECT 1', timeoutMs: 1000 },
  table: { query: 'SELECT COUNT(*) FROM sqlite_master LIMIT 1', timeoutMs: 2000 },
  write: { query: 'CREATE TEMP TABLE health_check (id INTEGER); DROP TABLE health_check;', timeoutMs: 5000 },
  integrity: { query: 'PRAGMA integrity_check(1)', timeoutMs: 10_000 },
} as const;

/** A write check that really needs the main database's write lock. */
const MAIN_WRITE_CHECK = 'BEGIN IMMEDIATE; ROLLBACK;';

function openFile(file = tempDbPath(), journalMode = 'WAL'): Database.Database {
  const db = trackDb(new Database(file));
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT)');
  return db;
}

function watch(db: Database.Database, config: HealthCheckOptions = {}): HealthyConnection {
  return new HealthyConnection({ connection: db, config: { maxIdleTimeMs: Infinity, ...config }, });
}

describe('structural checks before the query', () => {
  test('a closed handle fails fatally', async () => {
    const connection = watch(openFile());
    connection.connection.close();
    const result = await connection.probe({ force: true });
    expect(result.passed).toBe(false);
    expect(result.error).toMatchObject({ code: 'SQLITE_POOL_HANDLE_CLOSED', fatal: true, name: 'HealthCheckError' });
    expect(connection.status).toBe('unhealthy');
  });

  test('an open transaction fails fatally (an idle connection must not hold one)', async () => {
    const connection = watch(openFile());
    connection.connection.exec('BEGIN');
    const result = await connection.probe({ force: true });
    expect(result.error).toMatchObject({ code: 'SQLITE_POOL_TRANSACTION_OPEN', fatal: true });
    expect(connection.status).toBe('unhealthy');
  });

  test('a deleted file fails fatally, although SELECT 1 (and even a write) still succeeds on the handle', async () => {
    const file = tempDbPath();
    const db = openFile(file);
    const connection = watch(db);
    expect((await connection.probe()).passed).toBe(true);
    fs.unlinkSync(file);
    // Why the file check exists: SQLite keeps working on the unlinked inode, silently.
    expect(db.prepare('SELECT 1 AS one').get()).toEqual({ one: 1 });
    expect(db.prepare("INSERT INTO items (name) VALUES ('lost')").run().changes).toBe(1);
    const result = await connection.probe({ force: true });
    expect(result.error).toMatchObject({ code: 'SQLITE_POOL_FILE_MISSING', fatal: true });
    expect(result.error?.message).toContain(file);
    expect(connection.status).toBe('unhealthy');
  });

  test('a file replaced by another file (new inode) fails fatally', async () => {
    const dir = path.dirname(tempDbPath());
    const file = path.join(dir, 'live.db');
    const connection = watch(openFile(file));
    const other = path.join(dir, 'other.db');
    const replacement = new Database(other);
    replacement.exec('CREATE TABLE somebody_else (x)');
    replacement.close();
    fs.renameSync(other, file);
    const result = await connection.probe({ force: true });
    expect(result.error).toMatchObject({ code: 'SQLITE_POOL_FILE_REPLACED', fatal: true });
    expect(connection.status).toBe('unhealthy');
  });

  test('in-memory databases have no file to check', async () => {
    expect(fileIdentityOf(':memory:')).toBeUndefined();
    expect(fileIdentityOf('')).toBeUndefined();
    const connection = watch(trackDb(new Database(':memory:')));
    expect((await connection.probe()).passed).toBe(true);
  });

  test('the checks run in order: a closed handle is reported before anything else', async () => {
    const file = tempDbPath();
    const connection = watch(openFile(file));
    fs.unlinkSync(file);
    connection.connection.close();
    expect((await connection.probe()).error?.code).toBe('SQLITE_POOL_HANDLE_CLOSED');
  });
});

describe('the guide four strategies as configured queries', () => {
  test.each(Object.entries(STRATEGIES))('%s passes on a healthy file, repeatedly', async (_name, strategy) => {
    const connection = watch(openFile(), strategy);
    for (let i = 0; i < 3; i++) {
      const result = await connection.probe({ force: true });
      expect(result.error).toBeUndefined();
      expect(result.passed).toBe(true);
    }
    expect(connection.metrics.healthCheckCount).toBe(3);
    expect(connection.metrics.usageCount).toBe(0);
  });

  test('the write strategy is several statements and runs as a script, leaving no table behind', async () => {
    const connection = watch(openFile(), STRATEGIES.write);
    await connection.probe({ force: true });
    const temp = connection.connection.prepare("SELECT name FROM temp.sqlite_master WHERE name = 'health_check'").all();
    expect(temp).toEqual([]);
  });

  test("the probe leaves a wrapped connection's own busy timeout as it was (it waits for locks asynchronously instead)", async () => {
    const db = openFile();
    db.pragma('busy_timeout = 1234');
    const connection = new HealthyConnection({ connection: db, config: { timeoutMs: 250 } });
    expect((await connection.probe()).passed).toBe(true);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    connection.config.query = 'SELECT * FROM missing';
    expect((await connection.probe({ force: true })).passed).toBe(false);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
  });

  test('the integrity strategy fails fatally when the check reports a problem', async () => {
    // An index on a deterministic function that then changes its mind: a real, reported inconsistency.
    const db = openFile();
    let factor = 1;
    db.function('scaled', { deterministic: true }, (x: unknown) => Number(x) * factor);
    db.exec("CREATE INDEX items_scaled ON items (scaled(id)); INSERT INTO items (name) VALUES ('a'), ('b')");
    const connection = watch(db, STRATEGIES.integrity);
    expect((await connection.probe()).passed).toBe(true);
    factor = 2;
    const result = await connection.probe({ force: true });
    expect(result.passed).toBe(false);
    expect(result.error).toMatchObject({ code: 'SQLITE_CORRUPT', fatal: true });
    expect(result.error?.message).toMatch(/integrity check reported: .*items_scaled/);
  });

  test('a probe query that returns no row fails (not fatally)', async () => {
    const connection = watch(openFile(), { query: 'SELECT 1 WHERE 0' });
    expect((await connection.probe()).error).toMatchObject({ code: 'SQLITE_POOL_PROBE_NO_ROW', fatal: false });
  });

  test('a probe query with a syntax error fails (not fatally) with the SQLite code', async () => {
    const connection = watch(openFile(), { query: 'SELEC 1' });
    const error = (await connection.probe()).error;
    expect(error).toMatchObject({ code: 'SQLITE_ERROR', fatal: false });
    expect(error?.message).toContain('could not be prepared');
    expect(error?.cause).toBeInstanceOf(Database.SqliteError);
  });

  test('a query changed at run time is used by the next probe', async () => {
    const connection = watch(openFile());
    expect((await connection.probe()).passed).toBe(true);
    connection.config.query = 'SELECT * FROM no_such_table';
    expect((await connection.probe({ force: true })).error?.message).toContain('no such table');
  });
});

describe('another connection holding the write lock', () => {
  function lockedPair(journalMode: 'WAL' | 'DELETE', timeoutMs: number, query: string) {
    const file = tempDbPath();
    const probed = openFile(file, journalMode);
    const holder = trackDb(new Database(file));
    holder.exec('BEGIN EXCLUSIVE');
    holder.exec("INSERT INTO items (name) VALUES ('held')");
    return { holder, connection: watch(probed, { query, timeoutMs }) };
  }

  test('a write probe on the main database fails with SQLITE_BUSY within its timeout (not the 5 s busy timeout), then passes once the lock goes', async () => {
    const { holder, connection } = lockedPair('WAL', 100, MAIN_WRITE_CHECK);
    const started = performance.now();
    const result = await connection.probe({ force: true });
    const took = performance.now() - started;
    expect(result.passed).toBe(false);
    expect(result.error).toMatchObject({ code: 'SQLITE_BUSY', fatal: false });
    expect(took).toBeGreaterThanOrEqual(80); // it did wait for the lock...
    expect(took).toBeLessThan(2000); // ...but only about timeoutMs, not busyTimeoutMs (5000)
    expect(connection.connection.inTransaction).toBe(false);
    expect(connection.status).toBe('healthy'); // one failure is not "more than 3 in a row"
    holder.exec('ROLLBACK');
    expect((await connection.probe({ force: true })).passed).toBe(true);
    expect(connection.metrics.consecutiveFailures).toBe(0);
  });

  test('FINDING: the guide write check (CREATE TEMP TABLE ...) does not need the main database lock and passes under it', async () => {
    // A TEMP table lives in the connection's private temp database, so the guide's "write
    // validation" proves only that the connection can write its own temp schema. Use a query
    // that takes the main database's write lock (BEGIN IMMEDIATE; ROLLBACK;) to test writes.
    for (const mode of ['WAL', 'DELETE'] as const) {
      const { holder, connection } = lockedPair(mode, 100, STRATEGIES.write.query);
      expect(await connection.probe({ force: true })).toMatchObject({ passed: true, error: undefined });
      holder.exec('ROLLBACK');
    }
  });

  test('read probes pass under a writer in WAL mode; the table check fails in rollback-journal mode', async () => {
    const wal = lockedPair('WAL', 50, STRATEGIES.table.query);
    expect((await wal.connection.probe({ force: true })).passed).toBe(true);
    wal.holder.exec('ROLLBACK');

    const journal = lockedPair('DELETE', 50, STRATEGIES.table.query);
    expect((await journal.connection.probe({ force: true })).error?.code).toBe('SQLITE_BUSY');
    // SELECT 1 reads no page, so it never notices the lock.
    journal.connection.config.query = 'SELECT 1';
    expect((await journal.connection.probe({ force: true })).passed).toBe(true);
    journal.holder.exec('ROLLBACK');
  });
});
