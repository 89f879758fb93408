import type { Database, Statement } from 'better-sqlite3';
import type { BindParameters } from './statement-call.js';

/**
 * One database connection, wherever it runs. The pool, the health rules, leases and telemetry
 * drive connections only through this interface; two implementations exist: better-sqlite3 on
 * the calling thread (`ThreadBackend`) and a connection in a child process (`ProcessBackend`).
 * Their methods return a value where the work is done at once (in-thread) and a promise where it
 * is a round trip: callers accept either, and never ask which backend they drive.
 */

export type MaybePromise<T> = T | Promise<T>;

export type StatementMethod = 'run' | 'get' | 'all';

/** What `executeIfRead()` answers for a statement that writes: it was not run. */
export const STATEMENT_WRITES: unique symbol = Symbol('the statement writes; it was not run');

export interface StatementRequest {
  readonly sql: string;
  readonly method: StatementMethod;
  readonly params: BindParameters | undefined;
  /** `StatementMode` bits. */
  readonly modes: number;
  /** A backend that can stop a running statement stops it after this long (`QueryTimeoutError`). */
  readonly timeoutMs: number;
}

export interface IterateRequest extends Omit<StatementRequest, 'method'> {
  /** Rows fetched per `next()`. */
  readonly batchSize: number;
}

export interface RowBatch {
  readonly rows: unknown[];
  readonly done: boolean;
}

/** An open `iterate()`: the statement runs while the caller pulls rows. */
export interface BackendCursor {
  next(): MaybePromise<RowBatch>;
  /** Stops the statement early; safe to call more than once. */
  close(): MaybePromise<void>;
}

export interface ProbeRequest {
  /** The configured probe query, run after the structural checks. */
  readonly query: string;
  readonly timeoutMs: number;
  /** Also read the database file's header: after an error that might concern the pool's file. */
  readonly deep: boolean;
}

/** Synchronous access to a connection on this thread: `lease.connection`, `lease.prepare()`. */
export interface SyncAccess {
  readonly db: Database;
  /** The connection's cached statement for `sql` in `modes`. */
  statement(sql: string, modes: number): Statement;
  /** An iterator a lease opened: `reset()` closes it before the connection is lent again. */
  track(iterator: IterableIterator<unknown>): void;
  untrack(iterator: IterableIterator<unknown>): void;
}

export interface ConnectionBackend {
  /** The connection's id, for messages (set by the pool once the connection has opened). */
  label: string;
  readonly open: boolean;
  /** Whether the connection is inside a transaction (after its last statement). */
  readonly inTransaction: boolean;
  /** The id of the process the connection lives in, where that is not this one (diagnostics). */
  readonly pid?: number | undefined;
  /** Raw, synchronous access, where the connection lives on this thread. */
  readonly sync: SyncAccess | undefined;
  /**
   * Whether `sql` only reads; `undefined` while the backend cannot tell before running it. Throws
   * what preparing it throws (a syntax error), where preparing happens here.
   */
  readonlyOf(sql: string, modes: number): boolean | undefined;
  execute(request: StatementRequest): MaybePromise<unknown>;
  /**
   * Runs the statement if it only reads; answers `STATEMENT_WRITES` without running it if it
   * writes. For a text `readonlyOf` cannot tell about while another lease writes: a read runs at
   * once (no writer holds it up), a write learns that it must wait for the write gate, in the
   * one round trip that running it would have taken.
   */
  executeIfRead(request: StatementRequest): MaybePromise<unknown>;
  /** A script of one or more statements, without parameters. */
  exec(sql: string, timeoutMs: number): MaybePromise<void>;
  iterate(request: IterateRequest): BackendCursor;
  /** Throws (rejects with) a `HealthCheckError` that says what failed. */
  probe(request: ProbeRequest): Promise<void>;
  /**
   * Makes the connection fit for the next borrower: statements still running finished (or stopped
   * after `graceMs`), cursors closed, an open transaction rolled back. Says whether it had to roll
   * a transaction back (at once where it could, as a promise where it is a round trip); throws or
   * rejects when the connection cannot be made fit.
   */
  reset(graceMs: number): MaybePromise<boolean>;
  /** Closes the connection; waits until it is really gone. */
  close(): Promise<void>;
  /** Stops the connection now, whatever it is doing (`close()` still waits for the end). */
  kill(reason: string): void;
  /** Called once if the connection dies on its own (a crashed or killed process). */
  onLost: ((reason: string) => void) | undefined;
}
