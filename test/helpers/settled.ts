/**
 * Waits until the pool has no open under way (a replacement or refill it started in the
 * background), by its own counter; fails after 10 s of real time.
 */
export async function settled(pool: { getConnectionStatsSync(): { openingConnections: number } }): Promise<void> {
  const deadline = process.hrtime.bigint() + 10_000_000_000n;
  // One turn first: a close that just finished starts its replacement in a promise callback.
  do {
    if (process.hrtime.bigint() > deadline) throw new Error('the pool kept opening connections for 10 s');
    await new Promise((resolve) => setImmediate(resolve));
  } while (pool.getConnectionStatsSync().openingConnections > 0);
}
