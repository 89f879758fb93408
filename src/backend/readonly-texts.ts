/**
 * What a pool's worker connections have learned about statement texts: whether each only reads,
 * as better-sqlite3's `Statement.readonly` told a child process that prepared it. One instance is
 * shared by all of a pool's connections, so a text that one connection has run is known to every
 * other before it first runs it there: a read that is new to its connection does not count as a
 * write and queue behind the write gate.
 *
 * Keyed by the text alone. Whether a statement only reads is a property of the program SQLite
 * compiles it to, the same on every connection of the pool (one file, one set of options and
 * `onConnect`), and the statement modes (`pluck()`, `safeIntegers()`...) only shape its rows.
 *
 * Bounded, least recently used out first: however many one-off texts pass through (literals
 * built into SQL), the application's working set of queries stays known. A forgotten text is only
 * unknown again, and an unknown text still never waits for a writer (statement-runner.ts asks
 * the connection to run it only if it reads).
 */
export class ReadonlyTexts {
  readonly #readonly = new Map<string, boolean>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#readonly.size;
  }

  /** Whether `sql` only reads; `undefined` while no connection has prepared it (or it was forgotten). */
  get(sql: string): boolean | undefined {
    const readonly = this.#readonly.get(sql);
    if (readonly !== undefined) this.#touch(sql, readonly);
    return readonly;
  }

  /** What a connection found out by preparing `sql`. */
  learn(sql: string, readonly: boolean): void {
    if (this.#readonly.has(sql)) {
      this.#touch(sql, readonly);
      return;
    }
    if (this.#readonly.size >= this.#capacity) {
      const oldest = this.#readonly.keys().next();
      if (oldest.done !== true) this.#readonly.delete(oldest.value);
    }
    this.#readonly.set(sql, readonly);
  }

  /** A Map iterates in insertion order: re-inserting makes `sql` the most recently used. */
  #touch(sql: string, readonly: boolean): void {
    this.#readonly.delete(sql);
    this.#readonly.set(sql, readonly);
  }
}
