import { expect, test } from 'vitest';
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
  await settled(db);
  expect(worn.connection.open).toBe(false);
  await db.close();
});
