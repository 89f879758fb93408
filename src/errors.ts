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

/**
 * Opening a connection took longer than `connectTimeoutMs` (an `onConnect` that never settled, a
 * process that never answered): the open was abandoned, its handle closed or its process killed.
 * It reaches callers as the `cause` of a `ConnectionCreateError`.
 */
export class OpenTimeoutError extends SqlitePoolError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super('SQLITE_POOL_CONNECT_TIMEOUT', `opening took longer than connectTimeoutMs (${timeoutMs} ms); it was abandoned`);
    this.timeoutMs = timeoutMs;
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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function describeValue(value: unknown): string {
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

/**
 * A write waited `busyTimeoutMs` for the database lock (held by another connection of this pool,
 * another pool or another process) and gave up. Its `code` is SQLite's own `SQLITE_BUSY`, the
 * condition SQLite reports after its busy timeout, so code that handles `SQLITE_BUSY` keeps
 * working; `cause` is the last `SQLITE_BUSY` SQLite returned, if the wait got that far. The
 * statement had no effect.
 */
export class BusyTimeoutError extends SqlitePoolError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number, waitedFor: string, cause?: unknown) {
    super('SQLITE_BUSY', `Waited ${timeoutMs} ms (busyTimeoutMs) for ${waitedFor}; the statement did not run`, cause === undefined ? undefined : { cause });
    this.timeoutMs = timeoutMs;
  }
}
