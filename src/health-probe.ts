import { statSync } from 'node:fs';
import type { Database, Statement } from 'better-sqlite3';
import type { HealthCheckConfig } from './config.js';
import { HealthCheckError, isConnectionFatal, sqliteCode, errorMessage } from './errors.js';

/**
 * What a probe checks, in order, and why: `SELECT 1` never reads the database file and still
 * succeeds after the file was deleted, so a probe that means something on SQLite also checks the
 * handle, the transaction state and the file's identity before it runs the configured query.
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

/**
 * The probe prepares and executes through better-sqlite3's own methods, bypassing the
 * per-connection wrappers that count usage: probe time is not query time, and probes are not uses.
 */
function rawPrepare(db: Database, sql: string): Statement {
  return (Object.getPrototypeOf(db) as Database).prepare.call(db, sql);
}

function rawExec(db: Database, sql: string): void {
  (Object.getPrototypeOf(db) as Database).exec.call(db, sql);
}

/** How the configured query is run: prepared once per connection, or `exec()` for several statements. */
type PreparedProbe =
  | { readonly kind: 'statement'; readonly statement: Statement; readonly expectOk: boolean; readonly expectOne: boolean }
  | { readonly kind: 'script'; readonly sql: string };

/**
 * Runs the probe on one connection. Throws a {@link HealthCheckError} that says what failed;
 * `fatal` errors (closed handle, missing or replaced file, corruption) need no second opinion.
 */
export class HealthProbe {
  readonly #db: Database;
  readonly #identity: FileIdentity | undefined;
  readonly #busyTimeoutMs: number;
  /** The prepared probe query, rebuilt when `config.query` changes at run time. */
  #prepared: { readonly query: string; readonly probe: PreparedProbe } | undefined;

  constructor(db: Database, identity: FileIdentity | undefined, busyTimeoutMs: number) {
    this.#db = db;
    this.#identity = identity;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  run(config: HealthCheckConfig): void {
    const db = this.#db;
    if (!db.open) {
      throw new HealthCheckError('SQLITE_POOL_HANDLE_CLOSED', 'The connection handle is closed', true);
    }
    if (db.inTransaction) {
      throw new HealthCheckError('SQLITE_POOL_TRANSACTION_OPEN', 'An idle connection holds an open transaction', true);
    }
    this.#checkFileIdentity();
    this.#runQuery(config);
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

  #runQuery(config: HealthCheckConfig): void {
    const probe = this.#prepare(config.query);
    // Wait for a lock no longer than the probe may take (DESIGN.md 1.3), then restore the default.
    this.#setBusyTimeout(Math.floor(config.timeoutMs));
    try {
      if (probe.kind === 'script') {
        rawExec(this.#db, probe.sql);
        return;
      }
      const { statement } = probe;
      if (!statement.reader) {
        statement.run();
        return;
      }
      const row: unknown = statement.raw(true).get();
      if (!Array.isArray(row)) throw new HealthCheckError('SQLITE_POOL_PROBE_NO_ROW', 'The probe query returned no row', false);
      if (probe.expectOne && row[0] !== 1) {
        throw new HealthCheckError('SQLITE_POOL_PROBE_UNEXPECTED', `The probe query returned ${String(row[0])} instead of 1`, false);
      }
      if (probe.expectOk && row[0] !== 'ok') {
        throw new HealthCheckError('SQLITE_CORRUPT', `The integrity check reported: ${String(row[0])}`, true);
      }
    } catch (error) {
      if (error instanceof HealthCheckError) throw error;
      const code = sqliteCode(error) ?? 'SQLITE_POOL_PROBE_FAILED';
      throw new HealthCheckError(code, `The probe query failed: ${errorMessage(error)}`, isConnectionFatal(error), { cause: error });
    } finally {
      if (this.#db.open) this.#setBusyTimeout(this.#busyTimeoutMs);
    }
  }

  #setBusyTimeout(ms: number): void {
    rawPrepare(this.#db, `PRAGMA busy_timeout = ${ms}`).get();
  }

  #prepare(query: string): PreparedProbe {
    if (this.#prepared?.query === query) return this.#prepared.probe;
    let probe: PreparedProbe;
    try {
      const statement = rawPrepare(this.#db, query);
      const normalized = query.replace(/\s+/g, ' ').trim().replace(/;$/, '').toUpperCase();
      probe = {
        kind: 'statement',
        statement,
        expectOne: normalized === 'SELECT 1',
        expectOk: /^PRAGMA (QUICK|INTEGRITY)_CHECK\b/.test(normalized),
      };
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
