/**
 * Resolves in a macrotask (`setImmediate`): after the current chain of promise jobs, between
 * callers' work. Background work that takes a while on the calling thread (opening or closing a
 * connection) waits for it, so that it never runs inside the awaits of whichever caller happened
 * to trigger it. Not faked by the test suite's fake timers, which leave `setImmediate` real.
 */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
