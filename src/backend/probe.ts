import { statSync } from 'node:fs';
import type { Database, Statement } from 'better-sqlite3';
import { HealthCheckError, errorMessage } from '../errors.js';
import { isConnectionFatal, sqliteCode } from '../sqlite-errors.js';

/**
 * What a probe checks, in order, and why: `SELECT 1` never reads the database file and still
 * succeeds after the file was deleted, so a probe that means something on SQLite also checks the
 * handle, the transaction state and the file's identity before it runs the configured query.
 * The same probe runs on the calling thread and inside a worker connection's process.
 */

/** The device and inode of the file a connection opened; `undefined` for in-memory databases. */
export interface FileIdentity {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
}

export function fileIdentityOf(path: string): FileIdentity | undefined {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return undefined;
  const stats = statSync(path, { throwIfNoEntry: false });
  return stats === undefined ? undefined : { path, dev: stats.dev, ino: stats.ino };
}

/** How the configured query is run: prepared once per connection, or `exec()` for several statements. */
type PreparedProbe =
  | { readonly kind: 'statement'; readonly statement: Statement; readonly expectOk: boolean; readonly expectOne: boolean }
  | { readonly kind: 'script'; readonly sql: string };

/**
 * Runs the probe on one connection. Throws a {@link HealthCheckError} that says what failed;
 * `fatal` errors (closed handle, missing or replaced file, corruption) need no second opinion.
 * A lock held elsewhere surfaces as a non-fatal `SQLITE_BUSY` failure: the caller decides whether
 * to wait (asynchronously) and run it again.
 */
export class HealthProbe {
  readonly #db: Database;
  readonly #identity: FileIdentity | undefined;
  /** The prepared probe query, rebuilt when the configured query changes at run time. */
  #prepared: { readonly query: string; readonly probe: PreparedProbe } | undefined;
  #header: Statement | undefined;

  constructor(db: Database, identity: FileIdentity | undefined) {
    this.#db = db;
    this.#identity = identity;
  }

  /** `deep` also reads the database header: after an error that may concern the pool's own file. */
  run(query: string, deep: boolean): void {
    const db = this.#db;
    if (!db.open) throw new HealthCheckError('SQLITE_POOL_HANDLE_CLOSED', 'The connection handle is closed', true);
    if (db.inTransaction) throw new HealthCheckError('SQLITE_POOL_TRANSACTION_OPEN', 'An idle connection holds an open transaction', true);
    this.#checkFileIdentity();
    if (deep) this.#guard('The database file could not be read', () => (this.#header ??= db.prepare('PRAGMA main.schema_version')).get());
    this.#runQuery(query);
  }

  #checkFileIdentity(): void {
    const identity = this.#identity;
    if (identity === undefined) return;
    const stats = statSync(identity.path, { throwIfNoEntry: false });
    if (stats === undefined) {
      throw new HealthCheckError('SQLITE_POOL_FILE_MISSING', `The database file ${identity.path} no longer exists`, true);
    }
    if (stats.dev !== identity.dev || stats.ino !== identity.ino) {
      throw new HealthCheckError('SQLITE_POOL_FILE_REPLACED', `The database file ${identity.path} was replaced by another file`, true);
    }
  }

  #runQuery(query: string): void {
    const probe = this.#prepare(query);
    this.#guard('The probe query failed', () => {
      if (probe.kind === 'script') {
        this.#db.exec(probe.sql);
        return;
      }
      const { statement } = probe;
      if (!statement.reader) {
        statement.run();
        return;
      }
      const row: unknown = statement.get();
      if (!Array.isArray(row)) throw new HealthCheckError('SQLITE_POOL_PROBE_NO_ROW', 'The probe query returned no row', false);
      if (probe.expectOne && row[0] !== 1) {
        throw new HealthCheckError('SQLITE_POOL_PROBE_UNEXPECTED', `The probe query returned ${String(row[0])} instead of 1`, false);
      }
      if (probe.expectOk && row[0] !== 'ok') {
        throw new HealthCheckError('SQLITE_CORRUPT', `The integrity check reported: ${String(row[0])}`, true);
      }
    });
  }

  /** A SQLite failure, as the probe's verdict: fatal when the code says the file or handle is broken. */
  #guard(what: string, run: () => unknown): void {
    try {
      run();
    } catch (error) {
      if (error instanceof HealthCheckError) throw error;
      const code = sqliteCode(error) ?? 'SQLITE_POOL_PROBE_FAILED';
      throw new HealthCheckError(code, `${what}: ${errorMessage(error)}`, isConnectionFatal(error), { cause: error });
    }
  }

  #prepare(query: string): PreparedProbe {
    if (this.#prepared?.query === query) return this.#prepared.probe;
    let probe: PreparedProbe;
    try {
      const statement = this.#db.prepare(query);
      if (statement.reader) statement.raw(true);
      const normalized = query.replace(/\s+/g, ' ').trim().replace(/;$/, '').toUpperCase();
      probe = { kind: 'statement', statement, expectOne: normalized === 'SELECT 1', expectOk: /^PRAGMA (QUICK|INTEGRITY)_CHECK\b/.test(normalized) };
    } catch (error) {
      // better-sqlite3 prepares one statement at a time; the guide's write strategy has several.
      if (error instanceof RangeError && /more than one statement/i.test(error.message)) {
        probe = { kind: 'script', sql: query };
      } else {
        const code = sqliteCode(error) ?? 'SQLITE_POOL_PROBE_FAILED';
        throw new HealthCheckError(code, `The probe query could not be prepared: ${errorMessage(error)}`, isConnectionFatal(error), { cause: error });
      }
    }
    this.#prepared = { query, probe };
    return probe;
  }
}

/** Whether a probe failed only because a lock was held elsewhere (worth another try). */
export function isLockedProbe(error: unknown): boolean {
  return error instanceof HealthCheckError && (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_BUSY_RECOVERY');
}
