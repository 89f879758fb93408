import { expect, test } from 'vitest';
import { advance, useFakeClock } from '../helpers/temp-db.js';
import { settled } from '../helpers/settled.js';
import { pool } from './support.js';

/**
 * A connection near its limit gets its successor ahead of need. A pool in full use has no room
 * for one (poolSize is never exceeded), so the connection past 90% is retired at its next release
 * while another connection serves, and its successor opens meanwhile instead of at the hard limit.
 */
test('in full use, a connection past 90% of maxAgeMs is retired at its release and its successor opened, while the other serves', async () => {
  useFakeClock();
  const db = pool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 2, maxAgeMs: 10_000, cacheDurationMs: 60_000, intervalMs: 60_000 } });
  await db.initialize();
  const first = await db.getConnection();
  const second = await db.getConnection();
  await advance(9_500);
  const firstId = first.connectionId;
  first.release();
  await settled(db);
  const stats = db.getConnectionStatsSync();
  expect(stats.lifetime.closed.max_age).toBe(1);
  expect(stats.lifetime.created).toBe(3);
  expect([...db.connections()].map((c) => c.connectionId)).not.toContain(firstId);
  expect(stats.poolSize).toBe(2); // the successor and the one still leased: never more than poolSize
  expect(await second.get('SELECT 1 AS one')).toEqual({ one: 1 });
  second.release();
});

test('the last connection that can serve is not retired early: it works on to its limit', async () => {
  useFakeClock();
  const db = pool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1, maxAgeMs: 10_000, cacheDurationMs: 60_000, intervalMs: 60_000 } });
  await db.initialize();
  const lease = await db.getConnection();
  await advance(9_500);
  lease.release();
  await settled(db);
  expect(db.getConnectionStatsSync().lifetime.closed.max_age).toBe(0);
  expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
});
