/**
 * User code the pool calls and does not wait for (a logger method, a telemetry hook) may be
 * async although its type says `void`: a JavaScript caller can pass anything. A promise it
 * returns that rejects, left alone, is an unhandled rejection, and Node's default
 * (`--unhandled-rejections=throw`) ends the process for it. This hands such a rejection to
 * `onRejected` instead. A value that is not a thenable costs one `typeof` check.
 */
export function catchRejection(returned: unknown, onRejected: (error: unknown) => void): void {
  if (returned === undefined || returned === null) return;
  if (typeof returned !== 'object' && typeof returned !== 'function') return;
  try {
    const then = (returned as { then?: unknown }).then;
    if (typeof then === 'function') (then as (onFulfilled: undefined, onRejected: (error: unknown) => void) => unknown).call(returned, undefined, onRejected);
  } catch (error) {
    // A thenable whose `then` throws: that too is the user's failure, not the pool's.
    onRejected(error);
  }
}
