import Database from 'better-sqlite3';
import { now } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import { loadConnectFunction } from '../config/on-connect.js';
import { HealthProbe, fileIdentityOf, isLockedProbe } from './probe.js';
import { lockRetryDelay, pause } from '../lock-wait.js';
import { STATEMENT_WRITES, type BackendCursor, type ConnectionBackend, type IterateRequest, type ProbeRequest, type RowBatch, type StatementRequest, type SyncAccess } from './backend.js';
import type { BackendOptions } from './backend-options.js';
import { applyPragmas } from './pragmas.js';
import { whileLocked } from './while-locked.js';
import { untilAborted } from '../abortable.js';
import { callStatement } from './statement-call.js';
import { StatementCache, applyModes } from './statement-cache.js';

/**
 * A better-sqlite3 connection on the calling thread. Statements run synchronously (the fastest
 * way to run short statements), so this backend answers at once, never with a promise, except to
 * open and to probe. It is opened with a busy timeout of 0: a statement that finds the database
 * locked fails at once with `SQLITE_BUSY` instead of sleeping on the event loop, and the pool
 * waits asynchronously (see lock-wait.ts). A running statement cannot be interrupted: `timeoutMs`
 * does not apply here.
 */
export class ThreadBackend implements ConnectionBackend, SyncAccess {
  label: string;
  onLost: ((reason: string) => void) | undefined = undefined;
  readonly db: Database.Database;
  readonly #statements: StatementCache<Database.Statement>;
  readonly #probe: HealthProbe;
  /** Iterators open on this connection: closed before it is lent again or closed. */
  readonly #iterators = new Set<IterableIterator<unknown>>();
  readonly #prepare = (sql: string, modes: number): Database.Statement => {
    const statement = this.db.prepare(sql);
    applyModes(statement, modes);
    return statement;
  };

  /** A connection someone else opened keeps its busy timeout, but not while a probe runs. */
  readonly #foreign: boolean;

  private constructor(db: Database.Database, label: string, statementCacheSize: number, foreign: boolean) {
    this.db = db;
    this.#foreign = foreign;
    this.label = label;
    this.#statements = new StatementCache(statementCacheSize);
    this.#probe = new HealthProbe(db, fileIdentityOf(db.name));
  }

  /**
   * A connection someone else opened (the guide's `HealthyConnection(connection)`), as it is:
   * its busy timeout stays the owner's.
   */
  static wrap(db: Database.Database, label: string, statementCacheSize = 100): ThreadBackend {
    return new ThreadBackend(db, label, statementCacheSize, true);
  }

  /** Opens, applies the pragmas (read back) and runs `onConnect`; closes the handle if any step fails. */
  static async open(options: BackendOptions): Promise<ThreadBackend> {
    const { signal } = options;
    signal?.throwIfAborted();
    const db = new Database(options.filename, { readonly: options.readonly, fileMustExist: options.fileMustExist, timeout: 0 });
    try {
      // A lock held elsewhere is waited for asynchronously, up to busyTimeoutMs for the whole open.
      const deadline = now() + options.busyTimeoutMs;
      await whileLocked(db, (handle) => applyPragmas(handle, options.pragmas), deadline, signal);
      const onConnect = options.onConnect;
      // import() caches the module: a pool's connections share one load.
      const connect = onConnect?.fn ?? (onConnect?.module === undefined ? undefined : await untilAborted(loadConnectFunction(onConnect.module), signal));
      if (connect !== undefined) {
        await whileLocked(db, connect, deadline, signal);
        refuseBusyTimeout(db);
      }
    } catch (error) {
      if (db.open) db.close();
      throw error;
    }
    return new ThreadBackend(db, options.label, options.statementCacheSize, false);
  }

  get open(): boolean {
    return this.db.open;
  }

  get inTransaction(): boolean {
    // better-sqlite3 answers false for a closed handle.
    return this.db.inTransaction;
  }

  get sync(): SyncAccess {
    return this;
  }

  statement(sql: string, modes: number): Database.Statement {
    return this.#statements.get(sql, modes, this.#prepare);
  }

  readonlyOf(sql: string, modes: number): boolean {
    return this.statement(sql, modes).readonly;
  }

  execute(request: StatementRequest): unknown {
    return callStatement(this.statement(request.sql, request.modes), request.method, request.params);
  }

  executeIfRead(request: StatementRequest): unknown {
    return this.readonlyOf(request.sql, request.modes) ? this.execute(request) : STATEMENT_WRITES;
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  /**
   * Rows one at a time, as better-sqlite3 gives them: the statement runs only as far as the caller
   * reads (`batchSize` is for round trips, and there are none here).
   */
  iterate(request: IterateRequest): BackendCursor {
    let iterator: IterableIterator<unknown> | undefined;
    let closed = false;
    const drop = (): void => {
      if (iterator === undefined) return;
      this.untrack(iterator);
      iterator.return?.();
      iterator = undefined;
    };
    const close = (): void => {
      closed = true;
      drop();
    };
    return {
      next: (): RowBatch => {
        if (closed) return { rows: [], done: true };
        // Opened at the first pull, as better-sqlite3 runs the statement at the first next().
        iterator ??= this.#opened(callStatement(this.statement(request.sql, request.modes), 'iterate', request.params) as IterableIterator<unknown>);
        let step: IteratorResult<unknown>;
        try {
          step = iterator.next();
        } catch (error) {
          // better-sqlite3 ends an iterator that threw: the next pull (a retry after SQLITE_BUSY,
          // which had no effect) must open the statement again, not read the ended one's `done`.
          drop();
          throw error;
        }
        if (step.done === true) {
          this.untrack(iterator);
          return { rows: [], done: true };
        }
        return { rows: [step.value], done: false };
      },
      close,
    };
  }

  track(iterator: IterableIterator<unknown>): void {
    this.#iterators.add(iterator);
  }

  untrack(iterator: IterableIterator<unknown>): void {
    this.#iterators.delete(iterator);
  }

  async probe({ query, timeoutMs, deep }: ProbeRequest): Promise<void> {
    const deadline = now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        this.#probeOnce(query, deep);
        return;
      } catch (error) {
        // A lock held elsewhere: wait for it asynchronously, as statements do, within the probe's timeout.
        if (!isLockedProbe(error) || now() >= deadline) throw error;
        await pause(Math.min(lockRetryDelay(attempt), Math.max(0, deadline - now())));
      }
    }
  }

  /** One probe; on a wrapped connection with the busy timeout off meanwhile, so it never sleeps in SQLite. */
  #probeOnce(query: string, deep: boolean): void {
    const saved = this.#foreign && this.db.open ? (this.db.pragma('busy_timeout', { simple: true }) as number) : 0;
    if (saved !== 0) this.db.pragma('busy_timeout = 0');
    try {
      this.#probe.run(query, deep);
    } finally {
      if (saved !== 0 && this.db.open) this.db.pragma(`busy_timeout = ${saved}`);
    }
  }

  reset(): boolean {
    this.#closeIterators();
    if (!this.db.inTransaction) return false;
    this.db.prepare('ROLLBACK').run();
    if (this.db.inTransaction) throw new Error(`${this.label} is still inside a transaction after ROLLBACK`);
    return true;
  }

  close(): Promise<void> {
    this.kill();
    return Promise.resolve();
  }

  kill(): void {
    this.#closeIterators();
    if (this.db.open) this.db.close();
  }

  #opened(iterator: IterableIterator<unknown>): IterableIterator<unknown> {
    this.track(iterator);
    return iterator;
  }

  #closeIterators(): void {
    if (this.#iterators.size === 0) return;
    for (const iterator of this.#iterators) iterator.return?.();
    this.#iterators.clear();
  }
}

/**
 * An `onConnect` that set a busy timeout would make this connection sleep in SQLite's busy
 * handler, on the event loop, whenever it meets a lock: refused, as `pragmas.busy_timeout` is.
 */
function refuseBusyTimeout(db: Database.Database): void {
  const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
  if (busyTimeout === 0) return;
  throw new ConfigurationError(
    'onConnect',
    `busy_timeout = ${busyTimeout}`,
    'in-thread connections keep busy_timeout at 0 so that a lock never blocks the event loop; the pool waits for locks asynchronously: set busyTimeoutMs instead',
  );
}
