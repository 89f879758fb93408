/**
 * Serialises the pool's write transactions. SQLite allows one writer, and better-sqlite3 waits
 * for a lock by sleeping on the calling thread: a second `BEGIN IMMEDIATE` on another connection
 * while the first transaction awaits would block the event loop that the first one needs to
 * finish. Writers therefore queue here, asynchronously, before they begin.
 */
export class WriteLock {
  #held = false;
  readonly #queue: (() => void)[] = [];

  get held(): boolean {
    return this.#held;
  }

  /** Resolves when the caller holds the lock; call the returned function to let the next in. */
  acquire(): Promise<() => void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => this.#queue.push(() => resolve(this.#releaser())));
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next === undefined) this.#held = false;
      else next();
    };
  }
}
