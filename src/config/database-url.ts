import { ConfigurationError } from '../errors.js';

/** SQLite's name for a private in-memory database. */
export const MEMORY_FILENAME = ':memory:';

/** Whether better-sqlite3 opens `filename` as a private in-memory database (no file, no journal). */
export function isMemoryFilename(filename: string): boolean {
  return filename === MEMORY_FILENAME || filename === '';
}

/**
 * Turns the guide's `DATABASE_URL` forms into a better-sqlite3 filename:
 * `sqlite:///relative.db` (relative to the working directory), `sqlite:////absolute.db`,
 * `sqlite:///:memory:` or `sqlite://` (in memory), a plain path, or `:memory:`.
 */
export function filenameFromDatabaseUrl(url: string, option = 'databaseUrl'): string {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new ConfigurationError(option, url, 'expected a sqlite:/// URL, a file path or ":memory:"');
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  // A Windows drive letter ("C:\db.sqlite") is a path, not a scheme.
  if (scheme === null || /^[a-z]:[\\/]/i.test(url)) return url;
  if (scheme[1]?.toLowerCase() !== 'sqlite') {
    throw new ConfigurationError(option, url, `expected the sqlite scheme, not "${scheme[1]}:"`);
  }
  if (!url.toLowerCase().startsWith('sqlite://')) {
    throw new ConfigurationError(option, url, 'expected sqlite:///path (three slashes for a relative path, four for an absolute one)');
  }
  const rest = url.slice('sqlite://'.length);
  if (rest === '' || rest === '/' || rest === '/:memory:' || rest === ':memory:') return MEMORY_FILENAME;
  if (!rest.startsWith('/')) {
    throw new ConfigurationError(option, url, 'a SQLite URL has no host: write sqlite:///path');
  }
  if (/[?#]/.test(rest)) {
    throw new ConfigurationError(option, url, 'query strings and fragments are not supported; pass better-sqlite3 options instead');
  }
  try {
    return decodeURIComponent(rest.slice(1));
  } catch {
    throw new ConfigurationError(option, url, 'expected a valid percent-encoded path (write %25 for a literal %)');
  }
}
