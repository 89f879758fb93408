import { describe, expect, test } from 'vitest';
import { PoolClosedError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { captureLogger } from '../helpers/temp-db.js';
import { MODES, pool, seededFile } from './support.js';

/**
 * DESIGN.md §5: never more than `poolSize` connections open, in any mode, whatever the callers do
 * at once; `close()` wins over everything.
 */

describe.each(MODES)('%s mode', (mode) => {
  test('three concurrent first getConnection() calls with poolSize 2 open two connections and keep the name (defect 3)', async () => {
    const filename = seededFile();
    const db = pool({ mode, filename, poolSize: 2 });
    const first = [db.getConnection(), db.getConnection(), db.getConnection()];
    const [a, b] = await Promise.all(first.slice(0, 2));
    const stats = db.getConnectionStatsSync();
    expect(stats.poolSize).toBe(2);
    expect(stats.lifetime.created).toBe(2);
    expect(stats.pendingRequests).toBe(1);
    a!.release();
    const c = await first[2]!;
    expect(db.getConnectionStatsSync().lifetime.created).toBe(2);
    expect(db.poolName).toBe('test.db');
    b!.release();
    c.release();
  });

  test('initialize() twice at once opens the minimum once', async () => {
    const db = pool({ mode, poolSize: 4, healthCheckConfig: { minHealthyConnections: 2 } });
    await Promise.all([db.initialize(), db.initialize(), db.getConnection().then((lease) => lease.release())]);
    expect(db.getConnectionStatsSync().lifetime.created).toBe(2);
  });

  test('close() during initialize() wins: initialize rejects, no lease is granted, nothing stays open (defect 3)', async () => {
    const db = pool({ mode, poolSize: 2 });
    const opening = db.initialize();
    const waiting = db.getConnection();
    const closed = db.close();
    expect(await captureRejection(opening)).toBeInstanceOf(PoolClosedError);
    expect(await captureRejection(waiting)).toBeInstanceOf(PoolClosedError);
    await closed;
    expect(await db.close()).toEqual(await closed); // the same report
    const stats = db.getConnectionStatsSync();
    expect(stats.poolSize).toBe(0);
    expect(stats.lifetime.created - Object.values(stats.lifetime.closed).reduce((n, c) => n + c, 0)).toBe(0);
    expect(await captureRejection(db.getConnection())).toBeInstanceOf(PoolClosedError);
    expect(await captureRejection(db.initialize())).toBeInstanceOf(PoolClosedError);
  });

  test('getConnection() after close() rejects at once with PoolClosedError', async () => {
    const db = pool({ mode });
    await db.initialize();
    await db.close();
    expect(await captureRejection(db.getConnection())).toBeInstanceOf(PoolClosedError);
    expect(await captureRejection(db.get('SELECT 1'))).toBeInstanceOf(PoolClosedError);
  });

  test('never more than poolSize open while 20 callers borrow at once, however probes and retirements interleave', async () => {
    const db = pool({ mode, poolSize: 3, healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0, maxUsage: 2 } });
    let most = 0;
    const observe = (): void => {
      const s = db.getConnectionStatsSync();
      most = Math.max(most, s.poolSize);
    };
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await using lease = await db.getConnection();
        observe();
        await lease.get('SELECT ? AS i', [i]);
        observe();
      }),
    );
    expect(most).toBeLessThanOrEqual(3);
    const { lifetime, poolSize } = db.getConnectionStatsSync();
    const closed = Object.values(lifetime.closed).reduce((n, c) => n + c, 0);
    expect(lifetime.created - closed).toBe(poolSize);
  });
});

describe('worker mode', () => {
  test('one caller borrowing six times in a row with cacheDurationMs 0 starts at most minHealthyConnections + 1 processes (defect 5)', async () => {
    const db = pool({ mode: 'worker', poolSize: 4, healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0 } });
    for (let i = 0; i < 6; i++) {
      await using lease = await db.getConnection();
      await lease.get('SELECT 1');
    }
    expect(db.getConnectionStatsSync().lifetime.created).toBeLessThanOrEqual(2);
  });

  test('close({ timeoutMs }) stops a statement that never ends, and settles (defect 6)', async () => {
    const logger = captureLogger();
    const db = pool({ mode: 'worker', poolSize: 1, logger });
    const lease = await db.getConnection();
    const endless = captureRejection(lease.get('WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r'));
    const report = await db.close({ timeoutMs: 100 });
    expect(report.forcedLeases.map((f) => f.connectionId)).toEqual([lease.connectionId]);
    expect(await endless).toMatchObject({ code: 'SQLITE_POOL_WORKER_EXITED' });
    const stats = db.getConnectionStatsSync();
    expect(stats.poolSize).toBe(0);
    expect(stats.lifetime.closed.shutdown).toBe(1);
  });
});
