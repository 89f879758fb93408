import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { AcquireTimeoutError, ConnectionCreateError } from '../../src/index.js';
import { advance, captureLogger, tempDir, useFakeClock } from '../helpers/temp-db.js';
import { pool, seededFile } from './support.js';

/**
 * Outages handled like a production pool (defect 11): while the database cannot be opened, opens
 * back off (exponential, capped, jittered), are counted, spend no connection id, and are logged on
 * state changes only: the first failure, a summary every 30 s, the recovery.
 */
/** A seeded database alone in a directory, so the test can take the directory away (a volume gone). */
function seededFileInItsOwnDirectory(): { dir: string; filename: string } {
  const dir = path.join(tempDir(), 'data');
  fs.mkdirSync(dir);
  const filename = path.join(dir, 'app.db');
  fs.copyFileSync(seededFile(), filename);
  return { dir, filename };
}

test('three minutes without the database: few attempts, counted, a handful of log lines, and ids spent only on opens', async () => {
  useFakeClock();
  const { dir, filename } = seededFileInItsOwnDirectory();
  const logger = captureLogger();
  const db = pool({ filename, fileMustExist: true, poolSize: 2, logger, healthCheckConfig: { minHealthyConnections: 2, intervalMs: 5000, cacheDurationMs: 1000 } });
  await db.initialize();
  expect([...db.connections()].map((c) => c.connectionId)).toEqual(['conn_1', 'conn_2']);

  fs.renameSync(dir, `${dir}.away`); // the volume went away: the file and its directory
  logger.clear();
  await advance(180_000);
  const { lifetime, poolSize } = db.getConnectionStatsSync();
  expect(poolSize).toBe(0); // both probes found the file gone
  expect(lifetime.openFailures).toBeGreaterThan(10); // it kept trying
  expect(lifetime.openFailures).toBeLessThan(200); // with back-off, not 800 times
  const warnings = logger.entries.filter((e) => e.level === 'warn' || e.level === 'error');
  // Two failed probes and two retirements, the first failed open, and one summary per 30 s: not a line per attempt.
  expect(warnings.length).toBeLessThanOrEqual(2 + 2 + 1 + 180_000 / 30_000);

  fs.renameSync(`${dir}.away`, dir);
  await advance(30_000);
  expect(db.getConnectionStatsSync().poolSize).toBe(2);
  expect([...db.connections()].map((c) => c.connectionId).sort()).toEqual(['conn_3', 'conn_4']);
  expect(logger.entries.filter((e) => e.level === 'info').length).toBeGreaterThan(0); // the recovery
  expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
});

test('a minute of acquire timeouts with 4 callers retrying: every one counted, the log summarized', async () => {
  useFakeClock();
  const { dir, filename } = seededFileInItsOwnDirectory();
  const logger = captureLogger();
  const db = pool({ filename, fileMustExist: true, poolSize: 2, acquireTimeoutMs: 200, logger, healthCheckConfig: { minHealthyConnections: 2, cacheDurationMs: 100 } });
  await db.initialize();
  fs.renameSync(dir, `${dir}.away`);
  logger.clear();
  let stop = false;
  const callers = Array.from({ length: 4 }, async () => {
    while (!stop) await db.get('SELECT 1').catch(() => undefined);
  });
  await advance(60_000);
  stop = true;
  fs.renameSync(`${dir}.away`, dir);
  await advance(10_000);
  await Promise.all(callers);
  expect(db.getConnectionStatsSync().lifetime.timeouts).toBeGreaterThan(100);
  const warnings = logger.entries.filter((e) => e.level === 'warn' || e.level === 'error');
  // Probes and retirements, the first failed open and the first timeout, then a summary of each per 30 s.
  expect(warnings.length).toBeLessThanOrEqual(2 + 2 + 2 + 2 * (60_000 / 30_000));
});

test('a deleted file is an outage, not a new empty database: replacements need the file the pool opened', async () => {
  useFakeClock();
  const filename = seededFile(3);
  const db = pool({ filename, poolSize: 2, acquireTimeoutMs: 1000, healthCheckConfig: { cacheDurationMs: 0 } });
  expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(filename + suffix, { force: true });
  const reading = db.get('SELECT count(*) AS n FROM users').catch((error: unknown) => error);
  await advance(1000);
  const error = await reading;
  expect(error).toBeInstanceOf(AcquireTimeoutError);
  expect((error as AcquireTimeoutError).cause).toBeInstanceOf(ConnectionCreateError);
  expect(fs.existsSync(filename)).toBe(false);
  expect(db.getConnectionStatsSync().lifetime.openFailures).toBeGreaterThan(0);
});
