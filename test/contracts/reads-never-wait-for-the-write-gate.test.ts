import { describe, expect, test } from 'vitest';
import type { Lease } from '../../src/index.js';
import { MODES, pool, turn } from './support.js';

/**
 * README: "Every write ... goes through one write gate per pool"; reads do not, and in WAL mode
 * SQLite never makes a reader wait for the writer. So a SELECT runs while another lease holds a
 * write transaction open, in either mode, whatever its connection has run before: in worker mode
 * the pool learns which texts only read from the child processes, and a text one connection has
 * run is known to all of them (review finding: it was learned per connection, and a read new to
 * its connection queued behind the writer until busyTimeoutMs and failed with BusyTimeoutError).
 *
 * Every transaction below stays open until the read has settled: a read that waited for the
 * gate would fail with BusyTimeoutError (busyTimeoutMs), not see the table as it was before.
 */

const BUSY_TIMEOUT_MS = 1000;
const COUNT = 'SELECT count(*) AS n FROM users';

/** Holds a write transaction open on `lease` (one INSERT made) until `commit()` is called. */
async function openTransaction(lease: Lease) {
  let commit!: () => void;
  const released = new Promise<void>((resolve) => (commit = resolve));
  let begun!: () => void;
  const started = new Promise<void>((resolve) => (begun = resolve));
  const done = lease.transaction(async (tx) => {
    await tx.run("INSERT INTO users (name) VALUES ('in-transaction')");
    begun();
    await released;
  });
  await started;
  return { commit, done };
}

/** Three connections, each leased: the pool's connections are distinct, and none is lent twice. */
async function threeLeases(mode: (typeof MODES)[number]) {
  const db = pool({ mode, poolSize: 3, busyTimeoutMs: BUSY_TIMEOUT_MS, healthCheckConfig: { minHealthyConnections: 3 } });
  const leases = [await db.getConnection(), await db.getConnection(), await db.getConnection()] as const;
  expect(new Set(leases.map((lease) => lease.connectionId)).size).toBe(3);
  return { db, leases };
}

describe.each(MODES)('%s mode', (mode) => {
  test('a SELECT another connection has run runs on a connection new to it while a write transaction is open', async () => {
    const { leases } = await threeLeases(mode);
    const [learner, writer, reader] = leases;
    expect(await learner.get(COUNT)).toEqual({ n: 3 });
    const tx = await openTransaction(writer);
    try {
      expect(await reader.get(COUNT)).toEqual({ n: 3 });
    } finally {
      tx.commit();
      await tx.done;
    }
    expect(await reader.get(COUNT)).toEqual({ n: 4 });
    for (const lease of leases) lease.release();
  });

  test('a SELECT no connection has run yet runs while a write transaction is open', async () => {
    const { leases } = await threeLeases(mode);
    const [, writer, reader] = leases;
    const tx = await openTransaction(writer);
    try {
      expect(await reader.all("SELECT name FROM users WHERE name LIKE 'user%' ORDER BY id")).toEqual([{ name: 'user1' }, { name: 'user2' }, { name: 'user3' }]);
      // The same text again, now known to the pool.
      expect(await reader.get("SELECT count(*) AS n FROM users WHERE name LIKE 'user%'")).toEqual({ n: 3 });
    } finally {
      tx.commit();
      await tx.done;
    }
    for (const lease of leases) lease.release();
  });

  test('a write the pool has not seen yet still waits for the open transaction, then runs once', async () => {
    const { db, leases } = await threeLeases(mode);
    const [, writer, other] = leases;
    const tx = await openTransaction(writer);
    let finished = false;
    const insert = other.get<{ id: number }>("INSERT INTO users (name) VALUES ('after') RETURNING id").then((row) => {
      finished = true;
      return row;
    });
    await turn();
    await turn();
    expect(finished).toBe(false);
    tx.commit();
    await tx.done;
    // After the transaction's row (id 4), and only once.
    expect(await insert).toEqual({ id: 5 });
    for (const lease of leases) lease.release();
    expect(await db.all("SELECT id FROM users WHERE name = 'after'")).toEqual([{ id: 5 }]);
  });
});
