import type { Database, Statement } from 'better-sqlite3';
import type { SyncAccess } from '../backend/backend.js';
import { StatementMode } from '../backend/statement-cache.js';
import { LeaseReleasedError } from '../errors.js';
import type { LeasedConnection } from './leased-connection.js';
import type { OpenWork } from './iteration.js';
import type { StatementInfo } from './statement-catalog.js';
import { finish, runSync, type RunContext, type StatementOwner } from './statement-runner.js';
import { now } from '../clock.js';
import { telemetryRegistry, type PoolTelemetry, type TraceHandle } from '../telemetry/pool-telemetry.js';

/** What a lease statement needs from its lease. */
export interface StatementLease extends StatementOwner {
  readonly context: RunContext;
  /** The lease-bound `Database` (`lease.connection`); throws `LeaseReleasedError` after release. */
  readonly connection: Database;
  /** The connection while the lease holds it; throws `LeaseReleasedError` after. */
  current(): LeasedConnection;
  opened(work: OpenWork): void;
  closed(work: OpenWork): void;
}

/**
 * A prepared statement bound to one lease (in-thread mode): better-sqlite3's `Statement` API,
 * synchronous, on the connection's cached statement. Its modes (`pluck`, `raw`, `expand`,
 * `safeIntegers`) and bound parameters belong to this object alone: the cache keeps one statement
 * per text and modes, so nothing set here reaches another caller. Every method throws
 * `LeaseReleasedError` once the lease is released.
 */
export class LeaseStatement {
  readonly source: string;
  readonly #lease: StatementLease;
  readonly #info: StatementInfo;
  #modes: number = StatementMode.NONE;
  #bound: unknown[] | undefined;
  /**
   * The statement this object's open iterator runs on. Until it ends, this object is that one
   * statement, as a better-sqlite3 Statement would be: `busy`, and refusing other calls.
   */
  #iterating: Statement | undefined;

  constructor(lease: StatementLease, sql: string) {
    this.#lease = lease;
    this.source = sql;
    this.#info = lease.context.catalog.get(sql);
    try {
      this.#statement(); // prepared now: a syntax error belongs to prepare(), as in better-sqlite3
    } catch (error) {
      // ... and it is the statement's failure: reported (span, duration) as one.
      runSync(lease.context, lease.current(), this.#info, 'prepare', [], () => {
        throw error;
      });
    }
  }

  get reader(): boolean {
    return this.#statement().reader;
  }

  get readonly(): boolean {
    return this.#statement().readonly;
  }

  get busy(): boolean {
    return this.#statement().busy;
  }

  /** The lease's `connection`, never the connection's own handle: it ends with the lease. */
  get database(): Database {
    return this.#lease.connection;
  }

  /** Return only the first column of each row. */
  pluck(on = true): this {
    return this.#mode(StatementMode.PLUCK, on, 'pluck');
  }

  /** Return rows as arrays. */
  raw(on = true): this {
    return this.#mode(StatementMode.RAW, on, 'raw');
  }

  /** Return rows keyed by table, then column. */
  expand(on = true): this {
    return this.#mode(StatementMode.EXPAND, on, 'expand');
  }

  /** Return integers as BigInt. */
  safeIntegers(on = true): this {
    this.#modes = on ? this.#modes | StatementMode.SAFE_INTEGERS : this.#modes & ~StatementMode.SAFE_INTEGERS;
    return this;
  }

  /** Binds parameters for every later call (once; calls then take no parameters). */
  bind(...params: unknown[]): this {
    if (this.#bound !== undefined) throw new TypeError('The bind() method can only be invoked once per statement object');
    // Kept here, never bound on the cached statement (bind() is forever on a better-sqlite3 Statement).
    this.#bound = params;
    return this;
  }

  columns(): ReturnType<Statement['columns']> {
    return this.#statement().columns();
  }

  run(...params: unknown[]): ReturnType<Statement['run']> {
    return this.#call('run', params) as ReturnType<Statement['run']>;
  }

  get(...params: unknown[]): unknown {
    return this.#call('get', params);
  }

  all(...params: unknown[]): unknown[] {
    return this.#call('all', params) as unknown[];
  }

  iterate(...params: unknown[]): IterableIterator<unknown> {
    const entry = this.#lease.current();
    const args = this.#args(params);
    const statement = this.#statement();
    const iterator = statement.iterate(...args);
    this.#iterating = statement;
    return new SyncIteration(this.#lease, entry, this.#info, iterator, args, () => {
      if (this.#iterating === statement) this.#iterating = undefined;
    });
  }

  #call(method: 'run' | 'get' | 'all', params: unknown[]): unknown {
    const entry = this.#lease.current();
    const args = this.#args(params);
    const statement = this.#statement();
    return runSync(this.#lease.context, entry, this.#info, method, args, () => (statement[method])(...args));
  }

  #args(params: unknown[]): unknown[] {
    if (this.#bound === undefined) return params;
    if (params.length > 0) throw new TypeError('This statement already has bound parameters');
    return this.#bound;
  }

  /**
   * The connection's cached statement for this text in this object's modes (a fresh one while
   * another caller's iterator keeps the cached one busy), or the one this object iterates on.
   */
  #statement(): Statement {
    const access = this.#access();
    return this.#iterating ?? access.statement(this.source, this.#modes);
  }

  #access(): SyncAccess {
    const sync = this.#lease.current().backend.sync;
    if (sync === undefined) throw new LeaseReleasedError(this.#lease.connectionId);
    return sync;
  }

  /** `pluck`, `raw` and `expand` exclude each other; turning one off restores rows only if it was on. */
  #mode(bit: number, on: boolean, name: string): this {
    if (on && !this.#statement().reader) throw new TypeError(`The ${name}() method is only for statements that return data`);
    const rowModes = StatementMode.PLUCK | StatementMode.RAW | StatementMode.EXPAND;
    if (on) this.#modes = (this.#modes & ~rowModes) | bit;
    else this.#modes &= ~bit;
    return this;
  }
}

/** A synchronous iterator of a lease statement: ends (and is counted) with its lease at the latest. */
class SyncIteration implements IterableIterator<unknown>, OpenWork {
  readonly #lease: StatementLease;
  readonly #entry: LeasedConnection;
  readonly #info: StatementInfo;
  readonly #iterator: IterableIterator<unknown>;
  readonly #telemetry: PoolTelemetry | undefined = telemetryRegistry.active;
  readonly #span: TraceHandle | undefined;
  readonly #startedAt = now();
  readonly #ended: () => void;
  #pullMs = 0;
  #finished = false;

  constructor(lease: StatementLease, entry: LeasedConnection, info: StatementInfo, iterator: IterableIterator<unknown>, args: unknown[], ended: () => void) {
    this.#lease = lease;
    this.#ended = ended;
    this.#entry = entry;
    this.#info = info;
    this.#iterator = iterator;
    entry.backend.sync?.track(iterator);
    lease.opened(this);
    this.#span = this.#telemetry?.statementStarted(lease.context.pool, entry.id, info, 'iterate', args);
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown> {
    if (this.#lease.released) {
      this.end();
      throw new LeaseReleasedError(this.#lease.connectionId);
    }
    const startedAt = now();
    let step: IteratorResult<unknown>;
    try {
      step = this.#iterator.next();
    } catch (error) {
      this.#pullMs += now() - startedAt;
      this.#finish(error);
      throw error;
    }
    this.#pullMs += now() - startedAt;
    if (step.done === true) this.#finish(undefined);
    return step;
  }

  return(): IteratorResult<unknown> {
    this.#iterator.return?.();
    this.#finish(undefined);
    return { value: undefined, done: true };
  }

  /** The lease ended: the statement stops before the connection is lent again. */
  end(): void {
    if (!this.#finished) this.#iterator.return?.();
    this.#finish(undefined);
  }

  #finish(error: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#ended();
    this.#entry.backend.sync?.untrack(this.#iterator);
    this.#lease.closed(this);
    finish(this.#lease.context, this.#telemetry, this.#entry, this.#info, 'iterate', this.#span, this.#startedAt, error, undefined, this.#pullMs);
  }
}
