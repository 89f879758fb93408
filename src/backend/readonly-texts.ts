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
 * Bounded, least recently used out first, in two generations: new and used texts go into the young
 * one; when it holds half the capacity it becomes the old one, and the old one is dropped. A text
 * used at least once per `capacity / 2` new texts is never forgotten, however many one-off texts
 * pass through (literals built into SQL), and a hit in the young generation costs one `Map.get()`
 * (a `Map` of 1000 texts kept in recency order by delete-and-set measured ~3 µs per hit on Node 20,
 * against ~25 ns for a get). A forgotten text is only unknown again, and an unknown text
 * still never waits for a writer (statement-runner.ts asks the connection to run it only if it
 * reads).
 */
export class ReadonlyTexts {
  #young = new Map<string, boolean>();
  #old = new Map<string, boolean>();
  readonly #generation: number;

  constructor(capacity: number) {
    this.#generation = Math.max(1, Math.floor(capacity / 2));
  }

  /** Entries held, at most the capacity (a text promoted from the old generation counts twice until it is dropped). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** Whether `sql` only reads; `undefined` while no connection has prepared it (or it was forgotten). */
  get(sql: string): boolean | undefined {
    const young = this.#young.get(sql);
    if (young !== undefined) return young;
    const old = this.#old.get(sql);
    if (old !== undefined) this.learn(sql, old); // used: it outlives the old generation
    return old;
  }

  /** What a connection found out by preparing `sql`. */
  learn(sql: string, readonly: boolean): void {
    this.#young.set(sql, readonly);
    if (this.#young.size < this.#generation) return;
    this.#old = this.#young;
    this.#young = new Map();
  }
}
