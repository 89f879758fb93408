/**
 * Waits until the pool has no open and no close under way (a replacement or refill it started in
 * the background, a retired connection's close), by its own counters; fails after 10 s of real time.
 */
export async function settled(pool: { getConnectionStatsSync(): { openingConnections: number; closingConnections?: number } }): Promise<void> {
  const deadline = process.hrtime.bigint() + 10_000_000_000n;
  // One turn first: a close that just finished starts its replacement in a promise callback.
  for (;;) {
    if (process.hrtime.bigint() > deadline) throw new Error('the pool kept opening connections for 10 s');
    await new Promise((resolve) => setImmediate(resolve));
    const stats = pool.getConnectionStatsSync();
    if (stats.openingConnections === 0 && (stats.closingConnections ?? 0) === 0) return;
  }
}
