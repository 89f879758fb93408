import { expect, test, vi } from 'vitest';
import { flush } from '../helpers/temp-db.js';
import { settled } from '../helpers/settled.js';
import { telemetryHarness } from '../telemetry/harness.js';
import { pool } from './support.js';

/**
 * Retiring a connection at its usage limit costs an open and a close on the calling thread (a few
 * hundred µs). Neither runs inside the call of the borrower whose statement used the connection
 * up: the successor opens ahead of need in a macrotask, a worn-out connection closes in one, and
 * no borrower ever waits for an open (a shortcut that has to wait records a `sqlite_pool.acquire`
 * span; one served at once records none).
 */
test('a connection near maxUsage gets its successor in a macrotask, never inside a chain of awaits, and no borrower waits for an open', async () => {
  const h = telemetryHarness();
  const db = pool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1, maxUsage: 20, cacheDurationMs: 60_000, intervalMs: 60_000 } });
  await db.initialize();
  const stats = () => db.getConnectionStatsSync();
  expect(stats().lifetime.created).toBe(1);

  // Past 90% of the limit, in one unbroken chain of awaits: the successor is asked for, not opened.
  for (let i = 0; i < 19; i++) await db.get('SELECT 1 AS one');
  expect(stats().lifetime.created).toBe(1);
  expect(stats().openingConnections).toBe(1);
  await flush();
  await settled(db);
  expect(stats().lifetime.created).toBe(2);

  // Ten connections' worth of statements, with a macrotask now and then as a service has them.
  for (let i = 0; i < 200; i++) {
    expect(await db.get('SELECT ? AS i', [i])).toEqual({ i });
    if (i % 10 === 9) await flush();
  }
  await settled(db);
  const { lifetime } = stats();
  expect(lifetime.closed.max_usage + lifetime.closed.idle).toBeGreaterThanOrEqual(5);
  expect(stats().poolSize).toBeLessThanOrEqual(2);
  expect(h.spansNamed('sqlite_pool.acquire')).toHaveLength(0);
  // Every open after the first was ahead of need: none was traced under a caller's acquire.
  expect(h.spansNamed('sqlite_pool.connect').length).toBe(lifetime.created);
  expect(lifetime.timeouts).toBe(0);
  await db.close();
});

test('a connection retired at a limit is closed a macrotask after the release that retired it', async () => {
  const db = pool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1, maxUsage: 3, cacheDurationMs: 60_000, intervalMs: 60_000 } });
  await db.initialize();
  const lease = await db.getConnection();
  for (let i = 0; i < 4; i++) await lease.get('SELECT 1');
  const worn = lease.healthyConnection;
  lease.release();
  expect(db.getConnectionStatsSync().lifetime.closed.max_usage).toBe(1);
  expect(worn.connection.open).toBe(true);
  // Out of the pool, still counted against poolSize until its close has finished.
  expect(db.getConnectionStatsSync().closingConnections).toBe(1);
  await settled(db);
  expect(worn.connection.open).toBe(false);
  expect(db.getConnectionStatsSync().closingConnections).toBe(0);
  await db.close();
});

test("under a test's default fake timers (setImmediate faked too), retirements still complete: statements go on and close() resolves", async () => {
  vi.useFakeTimers();
  const db = pool({ poolSize: 1, acquireTimeoutMs: 1000, healthCheckConfig: { minHealthyConnections: 1, maxUsage: 5, intervalMs: 60_000 } });
  await db.initialize();
  // Two retirements at poolSize 1: each successor needs the close of the one before.
  for (let i = 0; i < 12; i++) expect(await db.get('SELECT ? AS i', [i])).toEqual({ i });
  const stats = db.getConnectionStatsSync();
  expect(stats.lifetime.closed.max_usage).toBe(2);
  expect(stats.lifetime.timeouts).toBe(0);
  await db.close();
  expect(db.getConnectionStatsSync().poolSize).toBe(0);
  vi.useRealTimers();
});

test("a caller who waits for capacity held by a close put off until a macrotask is not left behind another caller's chain of awaits", async () => {
  const db = pool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1, maxUsage: 5, cacheDurationMs: 60_000, intervalMs: 60_000 } });
  await db.initialize();
  let holderStatements = 0;
  let holding = true;
  const holder = (async () => {
    const lease = await db.getConnection();
    // Never yields to the event loop: in-thread statements settle in promise jobs.
    for (let i = 0; i < 5000 && holding; i++) {
      await lease.get('SELECT 1');
      holderStatements++;
    }
    lease.release();
  })();
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) {
    const before = holderStatements;
    await db.get('SELECT 2');
    seen.push(holderStatements - before);
  }
  holding = false;
  await holder;
  // Each of the other caller's statements waits a handful of the holder's at most (a retirement,
  // then the open of its successor), never the holder's whole chain.
  expect(Math.max(...seen)).toBeLessThan(100);
  expect(db.getConnectionStatsSync().lifetime.closed.max_usage).toBeGreaterThanOrEqual(2);
  await db.close();
});

test('a connection near its limit stays on top of the idle stack through a monitoring cycle, and serves its last uses before its successor', async () => {
  const db = pool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 1, maxUsage: 20, cacheDurationMs: 60_000, intervalMs: 3_600_000 } });
  await db.initialize();
  const servedBy = async (): Promise<string> => {
    const lease = await db.getConnection();
    await lease.get('SELECT 1');
    lease.release();
    return lease.connectionId;
  };
  const first = await servedBy();
  while ([...db.connections()].find((c) => c.connectionId === first)!.metrics.usageCount < 19) await servedBy();
  await flush();
  await settled(db);
  expect(db.getConnectionStatsSync().lifetime.created).toBe(2);
  await db.healthManager.runCycle(db);
  // The worn-out connection serves until it is past its limit, then retires by usage.
  const next = [await servedBy(), await servedBy(), await servedBy()];
  expect(next[0]).toBe(first);
  expect(next.at(-1)).not.toBe(first);
  await settled(db);
  const { closed } = db.getConnectionStatsSync().lifetime;
  expect(closed.max_usage).toBe(1);
  expect(closed.idle).toBe(0);
  await db.close();
});
