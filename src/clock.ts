/**
 * Monotonic milliseconds for ages, idle times and caches: a wall-clock jump must not expire a
 * whole pool or keep a stale probe result alive. Read through `performance` at each call so
 * fake timers can drive it in tests.
 */
export function now(): number {
  return performance.now();
}
