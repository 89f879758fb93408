/**
 * Waiting for a SQLite lock without blocking the event loop. In-thread connections are opened
 * with a busy timeout of 0, so a statement that finds the database locked fails at once with
 * `SQLITE_BUSY` instead of sleeping on the calling thread; the pool then pauses asynchronously
 * and tries again, until the caller's deadline (`busyTimeoutMs`).
 *
 * These pauses are the one kind of timer outside the housekeeper: each lasts at most
 * `MAX_LOCK_RETRY_DELAY_MS`, always settles, and keeps the process alive only while a caller is
 * waiting on it.
 */

export const MAX_LOCK_RETRY_DELAY_MS = 20;

/**
 * The pause before retry number `attempt` (0-based): 1, 2, 4, 8, 16, 20, 20 ... ms, each jittered
 * to 50-150 % so that connections (and processes) waiting on one lock do not retry in step.
 */
export function lockRetryDelay(attempt: number): number {
  const base = Math.min(MAX_LOCK_RETRY_DELAY_MS, 2 ** Math.min(attempt, 5));
  return base * (0.5 + Math.random());
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
