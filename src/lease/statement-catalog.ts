import { StatementInfo } from '../telemetry/statement-info.js';

export { StatementInfo } from '../telemetry/statement-info.js';

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
