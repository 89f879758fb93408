/**
 * Waiting on work the pool does not control (a user's `onConnect`, a child process starting) in
 * a way that can be abandoned: the wait ends when the signal aborts, whatever the work does.
 */

/**
 * `value` once it settles, or the signal's reason as soon as it aborts. The work itself goes on
 * (nothing can stop a promise); a rejection it reports later is dropped, as nobody awaits it.
 */
export function untilAborted<T>(value: T | PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!isThenable(value)) return Promise.resolve(value);
  const work = Promise.resolve(value);
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(() => undefined);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
