import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { AcquireTimeoutError, ConfigurationError, ConnectionCreateError, type Logger } from '../../src/index.js';
import { captureError, captureRejection } from '../helpers/capture-error.js';
import { advance, captureLogger, tempDir, useFakeClock } from '../helpers/temp-db.js';
import { pool, seededFile } from './support.js';

/** DESIGN.md §5: a user callback that throws cannot stop the pool (defect 8). */
describe('callbacks that throw', () => {
  test('a logger whose warn() throws on a leak report does not stop the timer: acquire deadlines and leak checks still run', async () => {
    useFakeClock();
    const logged = captureLogger();
    let throws = 1;
    const logger: Logger = {
      ...logged,
      warn: (message, ...rest) => {
        if (throws-- > 0) throw new Error('the logger is broken');
        logged.warn(message, ...rest);
      },
    };
    const db = pool({ poolSize: 1, leakDetectionThresholdMs: 100, logger, healthCheckConfig: { minHealthyConnections: 1, intervalMs: 1000 } });
    const held = await db.getConnection();
    await advance(150); // the leak check fires and its report throws inside the logger
    expect(db.getConnectionStatsSync().lifetime.leaks).toBe(1);
    const waiting = db.getConnection({ timeoutMs: 200 });
    const rejected = captureRejection(waiting);
    await advance(250);
    expect(await rejected).toBeInstanceOf(AcquireTimeoutError);
    held.release();
    // Monitoring still runs: a second over-long lease is found by the timer, not only on release.
    const second = await db.getConnection();
    await advance(150);
    expect(db.getConnectionStatsSync().lifetime.leaks).toBe(2);
    second.release();
    const before = db.getConnectionStatsSync().lifetime.healthChecks;
    await advance(1100);
    expect(db.getConnectionStatsSync().lifetime.healthChecks).toBeGreaterThan(before);
  });

  test('a logger that throws on every call never breaks a query, a probe or close()', async () => {
    const broken = (): never => {
      throw new Error('logger down');
    };
    const db = pool({ logger: { debug: broken, info: broken, warn: broken, error: broken }, healthCheckConfig: { cacheDurationMs: 0 } });
    await db.initialize();
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
    await expect(db.get('SELECT nope FROM users')).rejects.toThrow(/no such column/);
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
    await db.close();
  });

  test('an onConnect that throws fails that open (counted), and the pool keeps serving once it stops throwing', async () => {
    let fail = true;
    const db = pool({
      poolSize: 2,
      healthCheckConfig: { minHealthyConnections: 1 },
      onConnect: () => {
        if (fail) throw new Error('not yet');
      },
    });
    const error = await captureRejection(db.initialize());
    expect(error).toBeInstanceOf(ConnectionCreateError);
    expect(db.getConnectionStatsSync().lifetime.openFailures).toBe(1);
    fail = false;
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
  });
});

/** DESIGN.md §5: only a failure of the pool's own database file or handle evicts a connection (defect 9). */
describe("errors that concern another file", () => {
  test('SQLITE_CANTOPEN from ATTACH of a missing file leaves the connection in the pool', async () => {
    const db = pool({ poolSize: 1 });
    const missing = path.join(tempDir(), 'no', 'such', 'dir', 'other.db');
    const lease = await db.getConnection();
    const id = lease.connectionId;
    const error = await captureRejection(lease.exec(`ATTACH DATABASE '${missing}' AS other`));
    expect(error).toMatchObject({ code: 'SQLITE_CANTOPEN' });
    lease.release();
    await using again = await db.getConnection();
    expect(again.connectionId).toBe(id);
    const { lifetime } = db.getConnectionStatsSync();
    expect(lifetime.closed.error + lifetime.closed.unhealthy).toBe(0);
  });

  test('SQLITE_CORRUPT_VTAB from a broken FTS5 index leaves the connection in the pool', async () => {
    const filename = seededFile();
    const raw = new Database(filename);
    raw.exec("CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs (body) VALUES ('hello world'), ('other words');");
    raw.unsafeMode(true); // defensive mode protects shadow tables from exactly this
    raw.exec("UPDATE docs_data SET block = X'00000000000000' WHERE id > 10");
    raw.close();
    const db = pool({ filename, poolSize: 1 });
    const lease = await db.getConnection();
    const id = lease.connectionId;
    const error = await captureRejection(lease.all("SELECT * FROM docs WHERE docs MATCH 'hello'"));
    expect((error as { code?: string }).code).toMatch(/^SQLITE_CORRUPT/);
    lease.release();
    await using again = await db.getConnection();
    expect(again.connectionId).toBe(id);
    expect(await again.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
  });

  test('a connection whose own file was deleted is still evicted', async () => {
    const filename = seededFile();
    const db = pool({ filename, poolSize: 1, healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0 } });
    const lease = await db.getConnection();
    const id = lease.connectionId;
    lease.release();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(filename + suffix, { force: true });
    fs.copyFileSync(seededFile(), filename); // a backup put back
    await using again = await db.getConnection();
    expect(again.connectionId).not.toBe(id);
    expect(await again.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
  });
});

/** Every per-call option validated in the ConfigurationError style (defect 10). */
describe('per-call options', () => {
  test.each([NaN, 'abc', -1, null, {}])('getConnection({ timeoutMs: %s }) is refused with ConfigurationError naming timeoutMs', async (timeoutMs) => {
    const db = pool();
    const error = await captureRejection(db.getConnection({ timeoutMs: timeoutMs as number }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'timeoutMs', value: timeoutMs });
  });

  test('a signal that is not an AbortSignal, and unknown keys, are refused', async () => {
    const db = pool();
    expect(await captureRejection(db.getConnection({ signal: 'soon' as never }))).toMatchObject({ option: 'signal' });
    expect(await captureRejection(db.getConnection({ timeout: 5 } as never))).toMatchObject({ option: 'timeout' });
    expect(await captureRejection(db.get('SELECT 1', [], { timeoutMs: -5 }))).toMatchObject({ option: 'timeoutMs' });
    expect(await captureRejection(db.get('SELECT 1', [], { safeIntegers: 'yes' as never }))).toMatchObject({ option: 'safeIntegers' });
    expect(db.getConnectionStatsSync().usedConnections).toBe(0);
  });

  test('timeoutMs 0 fails at once when no connection is ready, and Infinity waits', async () => {
    const db = pool({ poolSize: 1 });
    const held = await db.getConnection();
    expect(await captureRejection(db.getConnection({ timeoutMs: 0 }))).toBeInstanceOf(AcquireTimeoutError);
    const patient = db.getConnection({ timeoutMs: Infinity });
    held.release();
    (await patient).release();
  });

  test('a pragma that SQLite ignores is refused with ConfigurationError', async () => {
    const db = pool({ pragmas: { journal_mode: 'NOPE' } });
    const error = await captureRejection(db.initialize());
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'pragmas.journal_mode', value: 'NOPE' });
    const typo = pool({ pragmas: { foriegn_keys: 'ON' } });
    expect(await captureRejection(typo.initialize())).toMatchObject({ option: 'pragmas.foriegn_keys' });
    // The pool owns the busy timeout (busyTimeoutMs): a pragma must not take it over.
    expect(captureError(() => pool({ pragmas: { busy_timeout: 10 } }))).toMatchObject({ option: 'pragmas.busy_timeout' });
  });
});
