/**
 * Every error the package throws has a `name`, a stable `code` and, where another error caused
 * it, a `cause`. Errors from SQLite itself reach callers unchanged: they are classified here,
 * never re-constructed.
 */

/** Base class of the package's errors. */
export class SqlitePoolError extends Error {
  /** A stable, machine-readable code such as `SQLITE_POOL_ACQUIRE_TIMEOUT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or environment variable has a value the pool cannot use. */
export class ConfigurationError extends SqlitePoolError {
  /** The option (or environment variable) at fault, e.g. `healthCheckConfig.timeoutMs`. */
  readonly option: string;
  readonly value: unknown;
  /** What the option accepts, e.g. `expected an integer from 1`. */
  readonly expectation: string;

  constructor(option: string, value: unknown, expectation: string, options?: { cause?: unknown }) {
    super(
      'SQLITE_POOL_INVALID_CONFIG',
      `Invalid ${option}: ${describeValue(value)}; ${expectation}`,
      options,
    );
    this.option = option;
    this.value = value;
    this.expectation = expectation;
  }
}

/** The numbers an acquire timeout reports, so the message says who holds the connections. */
export interface PoolSnapshot {
  readonly used: number;
  readonly idle: number;
  readonly waiting: number;
  readonly max: number;
}

/** No connection became available before the acquire deadline. */
export class AcquireTimeoutError extends SqlitePoolError {
  readonly timeoutMs: number;
  readonly pool: PoolSnapshot;

  constructor(timeoutMs: number, pool: PoolSnapshot, lastCreateError: unknown, waitingFor = 'a connection') {
    const why =
      lastCreateError === undefined
        ? ''
        : `; the last attempt to open a connection failed: ${errorMessage(lastCreateError)}`;
    super(
      'SQLITE_POOL_ACQUIRE_TIMEOUT',
      `Timed out after ${timeoutMs} ms waiting for ${waitingFor} ` +
        `(used ${pool.used}, idle ${pool.idle}, waiting ${pool.waiting}, max ${pool.max})${why}`,
      lastCreateError === undefined ? undefined : { cause: lastCreateError },
    );
    this.timeoutMs = timeoutMs;
    this.pool = pool;
  }
}

/** The caller's AbortSignal fired while it waited for a connection. */
export class AcquireAbortedError extends SqlitePoolError {
  constructor(reason: unknown) {
    super('SQLITE_POOL_ACQUIRE_ABORTED', 'The wait for a connection was aborted', {
      cause: reason,
    });
  }
}

/** The pool was closed (or is closing) and takes no more requests. */
export class PoolClosedError extends SqlitePoolError {
  constructor(message = 'The pool is closed') {
    super('SQLITE_POOL_CLOSED', message);
  }
}

/** A new connection could not be opened or failed its first probe. */
export class ConnectionCreateError extends SqlitePoolError {
  constructor(filename: string, cause: unknown) {
    super(
      'SQLITE_POOL_CONNECT_FAILED',
      `Could not open a connection to ${filename}: ${errorMessage(cause)}`,
      { cause },
    );
  }
}

/** A lease was used after it was released. */
export class LeaseReleasedError extends SqlitePoolError {
  constructor(connectionId: string) {
    super(
      'SQLITE_POOL_LEASE_RELEASED',
      `The lease on ${connectionId} was already released; acquire a new connection`,
    );
  }
}

/** Why a health probe failed. `fatal` failures evict at once; the others count towards the limit. */
export class HealthCheckError extends SqlitePoolError {
  readonly fatal: boolean;

  constructor(code: string, message: string, fatal: boolean, options?: { cause?: unknown }) {
    super(code, message, options);
    this.fatal = fatal;
  }
}

/**
 * SQLite result codes that mean the connection (or the file behind it) is broken, not the
 * statement. A connection that raises one of these is evicted; any other SQLite error (syntax,
 * constraint, busy) is the caller's and leaves the connection healthy.
 */
const CONNECTION_FATAL_CODES = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY_DBMOVED',
]);

/** Whether an error raised on a connection means the connection must not be used again. */
export function isConnectionFatal(error: unknown): boolean {
  if (error instanceof HealthCheckError) return error.fatal;
  const code = sqliteCode(error);
  if (code !== undefined) {
    return CONNECTION_FATAL_CODES.has(code) || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CORRUPT');
  }
  // better-sqlite3 raises a TypeError once the handle is closed.
  return error instanceof TypeError && /database connection is not open/i.test(error.message);
}

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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A statement ran past its `timeoutMs` in worker mode; its worker was terminated and replaced. */
export class QueryTimeoutError extends SqlitePoolError {
  readonly timeoutMs: number;

  constructor(sql: string, timeoutMs: number) {
    super('SQLITE_POOL_QUERY_TIMEOUT', `The statement ran longer than ${timeoutMs} ms and was stopped: ${sql.slice(0, 200)}`);
    this.timeoutMs = timeoutMs;
  }
}

/** A connection's worker process crashed or exited; the request could not complete. */
export class WorkerExitedError extends SqlitePoolError {
  constructor(connectionId: string, detail: string, cause?: unknown) {
    super('SQLITE_POOL_WORKER_EXITED', `The worker of ${connectionId} stopped: ${detail}`, cause === undefined ? undefined : { cause });
  }
}
