import type { Database } from 'better-sqlite3';
import { ConfigurationError } from '../errors.js';

/**
 * Applies the pool's pragmas to a new connection and reads each back. SQLite ignores what it
 * does not understand without a word: an unknown pragma name (`foriegn_keys`), a value it does not
 * take (`journal_mode = NOPE`), a setting it cannot apply here (WAL on an in-memory database). A
 * pool that silently runs without the setting its owner asked for is refused instead.
 */
export function applyPragmas(db: Database, pragmas: Readonly<Record<string, string | number | boolean>>): void {
  const entries = Object.entries(pragmas);
  if (entries.length === 0) return;
  const known = knownPragmas(db);
  for (const [name, value] of entries) {
    if (!known.has(name.toLowerCase())) throw new ConfigurationError(`pragmas.${name}`, value, 'SQLite has no pragma of that name');
    db.pragma(`${name} = ${String(value)}`);
    if (ACTIONS.has(name.toLowerCase())) continue;
    const actual: unknown = db.pragma(name, { simple: true });
    // Some settings do not apply to some databases and read back nothing (mmap_size in memory).
    if (actual === undefined) continue;
    if (!sameSetting(name, value, actual)) {
      throw new ConfigurationError(`pragmas.${name}`, value, `SQLite did not take it: ${name} reads ${JSON.stringify(actual)} after setting it`);
    }
  }
}

/** The pragmas this SQLite build knows (the same for every connection of the process). */
let known: Set<string> | undefined;

function knownPragmas(db: Database): Set<string> {
  known ??= new Set(db.prepare('SELECT name FROM pragma_pragma_list').pluck().all() as string[]);
  return known;
}

/** Pragmas that do something rather than set something: there is nothing to read back. */
const ACTIONS = new Set(['optimize', 'wal_checkpoint', 'incremental_vacuum', 'shrink_memory', 'analysis_limit']);

/** The numbers SQLite reads back for the keywords a pragma takes. */
const KEYWORDS: Readonly<Record<string, number>> = {
  on: 1, true: 1, yes: 1, off: 0, false: 0, no: 0,
  // synchronous
  normal: 1, full: 2, extra: 3,
  // auto_vacuum, temp_store
  none: 0, incremental: 2, default: 0, file: 1, memory: 2,
  // secure_delete
  fast: 2,
};

const KEYWORD_OVERRIDES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  auto_vacuum: { full: 1 },
  temp_store: { memory: 2, file: 1, default: 0 },
};

function sameSetting(name: string, wanted: string | number | boolean, actual: unknown): boolean {
  const key = name.toLowerCase();
  if (typeof wanted === 'boolean') return Number(actual) === (wanted ? 1 : 0);
  if (typeof wanted === 'number') return Number(actual) === wanted;
  const word = wanted.toLowerCase();
  if (typeof actual === 'string') return actual.toLowerCase() === word;
  if (typeof actual === 'number' || typeof actual === 'bigint') {
    const number = Number(word);
    if (word !== '' && !Number.isNaN(number)) return Number(actual) === number;
    const keyword = KEYWORD_OVERRIDES[key]?.[word] ?? KEYWORDS[word];
    return keyword !== undefined && Number(actual) === keyword;
  }
  return false;
}
