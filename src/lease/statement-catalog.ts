/**
 * One statement text's identity in a pool, created the first time the pool sees the text.
 * Telemetry stores what it derives from the text (summary, operation, sanitised text, attribute
 * sets) in `telemetryCache` the first time the statement runs, so no execution parses SQL again,
 * on any connection of the pool (a retired connection's successor included).
 */
export class StatementInfo {
  /** The SQL text as the caller wrote it. */
  readonly source: string;
  /**
   * `prepared`: a statement (parameters bound separately). `exec`: a raw script. `pragma`:
   * `PRAGMA <source>` through `pragma()`.
   */
  readonly kind: 'prepared' | 'exec' | 'pragma';
  /** Owned by the telemetry implementation; the pool never reads it. */
  telemetryCache: unknown = undefined;

  constructor(source: string, kind: StatementInfo['kind']) {
    this.source = source;
    this.kind = kind;
  }
}

/**
 * The pool's statement texts, by kind and text. Bounded: an application's queries are a fixed
 * set; a stream of distinct texts (literals built into SQL) gets fresh entries past the bound,
 * which costs their telemetry a parse each, and nothing else.
 */
export class StatementCatalog {
  readonly #infos = new Map<string, StatementInfo>();
  readonly #scripts = new Map<string, StatementInfo>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(sql: string, kind: StatementInfo['kind'] = 'prepared'): StatementInfo {
    const map = kind === 'prepared' ? this.#infos : this.#scripts;
    const key = kind === 'pragma' ? `\u0000${sql}` : sql;
    let info = map.get(key);
    if (info === undefined) {
      info = new StatementInfo(sql, kind);
      if (map.size < this.#capacity) map.set(key, info);
    }
    return info;
  }
}
