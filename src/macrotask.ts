// Imported from node:timers, not read from globalThis: a test's fake timers (Vitest's and Jest's
// defaults fake `setImmediate`) replace the global, and work the pool put off until a macrotask
// must still happen in a test that never advances the fake clock.
import { setImmediate as realSetImmediate } from 'node:timers';

/**
 * Work put off until a macrotask (`setImmediate`): after the current chain of promise jobs,
 * between callers' work. Background work that takes a while on the calling thread (opening or
 * closing a connection) waits for it, so that it never runs inside the awaits of whichever caller
 * happened to trigger it. Someone who comes to need that work (a caller waiting for the capacity
 * or the connection it brings, `close()`) hurries it: everything put off starts at once.
 */
export class Deferrals {
  readonly #waiting = new Set<() => void>();

  /** Resolves in the next macrotask, or at `hurry()`, whichever comes first. */
  later(): Promise<void> {
    let go!: () => void;
    const started = new Promise<void>((resolve) => (go = resolve));
    this.#waiting.add(go);
    realSetImmediate(() => {
      this.#waiting.delete(go);
      go();
    });
    return started;
  }

  /** Starts everything put off, now (as promise jobs). */
  hurry(): void {
    if (this.#waiting.size === 0) return;
    for (const go of this.#waiting) go();
    this.#waiting.clear();
  }
}
