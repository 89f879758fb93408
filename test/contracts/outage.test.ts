import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { advance, captureLogger, tempDir, useFakeClock } from '../helpers/temp-db.js';
import { pool, seededFile } from './support.js';

/**
 * Outages handled like a production pool (defect 11): while the database cannot be opened, opens
 * back off (exponential, capped, jittered), are counted, spend no connection id, and are logged on
 * state changes only: the first failure, a summary every 30 s, the recovery.
 */
test('three minutes without the database: few attempts, counted, a handful of log lines, and ids spent only on opens', async () => {
  useFakeClock();
  const dir = path.join(tempDir(), 'data');
  fs.mkdirSync(dir);
  const filename = path.join(dir, 'app.db');
  fs.copyFileSync(seededFile(), filename);
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
