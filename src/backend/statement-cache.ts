/**
 * How a statement returns its rows: better-sqlite3's statement modes, as bits. They are part of a
 * cached statement's key, so a mode one caller sets can never reach another caller's statement:
 * better-sqlite3's `pluck()`, `raw()`, `expand()` and `safeIntegers()` stick to the Statement.
 */
export const StatementMode = {
  NONE: 0,
  PLUCK: 1,
  RAW: 2,
  EXPAND: 4,
  SAFE_INTEGERS: 8,
} as const;

/** A statement as better-sqlite3 has it: each mode is a method that sets it on the statement. */
export interface ModalStatement {
  pluck(on?: boolean): unknown;
  raw(on?: boolean): unknown;
  expand(on?: boolean): unknown;
  safeIntegers(on?: boolean): unknown;
  readonly reader: boolean;
}

/** Sets the modes of a freshly prepared statement once; a cached statement keeps them for life. */
export function applyModes(statement: ModalStatement, modes: number): void {
  if (modes === StatementMode.NONE) return;
  // raw(), pluck() and expand() return rows, so only a statement that returns rows takes them.
  if (statement.reader) {
    if (modes & StatementMode.PLUCK) statement.pluck(true);
    else if (modes & StatementMode.RAW) statement.raw(true);
    else if (modes & StatementMode.EXPAND) statement.expand(true);
  }
  if (modes & StatementMode.SAFE_INTEGERS) statement.safeIntegers(true);
}

/** What the cache needs of a statement: whether it is in use (an open iterator) right now. */
export interface CachedStatement {
  readonly busy: boolean;
}

/**
 * Prepared statements of one connection, by SQL text and modes, in both backends (the in-thread
 * connection and the child process of a worker connection). The oldest entry goes when the cache
 * is full: the working set of an application is its fixed set of queries.
 */
export class StatementCache<S extends CachedStatement> {
  readonly #statements = new Map<string, S>();
  readonly #capacity: number;
  /** The last statement asked for: the pool asks twice in a row (is it a write? then run it). */
  #lastSql: string | undefined;
  #lastModes = 0;
  #last: S | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#statements.size;
  }

  /**
   * The cached statement for `sql` in `modes`, or the one `prepare` makes (cached if there is
   * room). While the cached one is busy, iterating for another caller (a nested iteration of the
   * same query, a `get()` of the text an open iterator runs), this use gets a fresh statement of
   * its own, as better-sqlite3's `prepare()` would give it: a busy statement can run nothing else.
   */
  get(sql: string, modes: number, prepare: (sql: string, modes: number) => S): S {
    const statement = this.#cached(sql, modes, prepare);
    return statement.busy ? prepare(sql, modes) : statement;
  }

  #cached(sql: string, modes: number, prepare: (sql: string, modes: number) => S): S {
    if (sql === this.#lastSql && modes === this.#lastModes) return this.#last as S;
    const key = modes === StatementMode.NONE ? sql : `${modes}\u0000${sql}`;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      statement = prepare(sql, modes);
      if (this.#capacity === 0) return statement;
      if (this.#statements.size >= this.#capacity) {
        const oldest = this.#statements.keys().next();
        if (oldest.done !== true) this.#statements.delete(oldest.value);
      }
      this.#statements.set(key, statement);
    }
    this.#lastSql = sql;
    this.#lastModes = modes;
    this.#last = statement;
    return statement;
  }
}
