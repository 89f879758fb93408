import { HealthCheckError, SqlitePoolError } from './errors.js';

/**
 * What a failed statement says about its connection. SQLite's result codes are classified here
 * once, for every path (the async API, the raw handle, probes, both backends).
 */

/** The SQLite result code (`SQLITE_BUSY`, ...) of a better-sqlite3 `SqliteError`, if it is one. */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** The value of `error.type` for an error: the SQLite code, else the class name. */
export function errorType(error: unknown): string {
  if (error instanceof SqlitePoolError) return error.code;
  const code = sqliteCode(error);
  if (code !== undefined) return code;
  if (error instanceof Error) return error.name || '_OTHER';
  return '_OTHER';
}

/**
 * Codes that look connection-level: the connection, or a file behind it, is broken. They may
 * concern the pool's own database file or another one (an attached database, a virtual table's
 * shadow tables, the file a caller's ATTACH names), so on their own they never evict.
 */
const CONNECTION_LEVEL_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_DBMOVED']);

/** Whether an error looks connection-level (a probe then decides whether it concerns the pool's file). */
export function isConnectionFatal(error: unknown): boolean {
  if (error instanceof HealthCheckError) return error.fatal;
  const code = sqliteCode(error);
  if (code !== undefined) return CONNECTION_LEVEL_CODES.has(code) || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CORRUPT');
  return isClosedHandleError(error);
}

/** better-sqlite3 raises a TypeError once the handle is closed. */
export function isClosedHandleError(error: unknown): boolean {
  return error instanceof TypeError && /database connection is not open/i.test(error.message);
}

/**
 * - `caller`: the statement's own failure (syntax, constraint, a stale snapshot): the connection is fine.
 * - `busy`: a lock is held elsewhere; the statement had no effect and may be retried later.
 * - `closed`: the pool's handle is closed: the connection is gone.
 * - `suspect`: a connection-level code that may concern another file: probe before evicting.
 */
export type FailureKind = 'caller' | 'busy' | 'closed' | 'suspect';

export function failureKind(error: unknown): FailureKind {
  const code = sqliteCode(error);
  if (code === undefined) return isClosedHandleError(error) ? 'closed' : 'caller';
  // SQLITE_BUSY_SNAPSHOT is not here: retrying the statement can never succeed (the transaction must restart).
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_RECOVERY' || code === 'SQLITE_BUSY_TIMEOUT') return 'busy';
  return isConnectionFatal(error) ? 'suspect' : 'caller';
}
