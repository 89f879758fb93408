import { STATEMENT_WRITES, type ConnectionBackend, type MaybePromise, type StatementRequest } from '../backend/backend.js';
import type { BindParameters } from '../backend/statement-call.js';
import { StatementMode } from '../backend/statement-cache.js';
import { now } from '../clock.js';
import type { QueryOptions } from '../config/call-options.js';
import { BusyTimeoutError, LeaseReleasedError } from '../errors.js';
import { lockRetryDelay, pause } from '../lock-wait.js';
import type { LeasedConnection, WriteGateway } from './leased-connection.js';
import { isSingleStatement } from '../sql/tokenize.js';
import { failureKind } from '../sqlite-errors.js';
import { telemetryRegistry, type ObservedPool, type PoolTelemetry, type StatementMethod, type TraceHandle } from '../telemetry/pool-telemetry.js';
import type { StatementCatalog, StatementInfo } from './statement-catalog.js';

/** What running statements needs from its pool; built once per pool. */
export interface RunContext {
  readonly pool: ObservedPool;
  readonly catalog: StatementCatalog;
  readonly gate: WriteGateway;
  /** The total wait for a lock (the write gate, then SQLite's lock), per statement. */
  readonly busyTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

/** The lease a statement runs under: it owns the write gate while it writes. */
export interface StatementOwner {
  readonly released: boolean;
  readonly connectionId: string;
}

/**
 * The owner of a shortcut's one statement (`db.get()`, `db.run()`): the write gate's holder while
 * it writes, ended like a lease. Nothing of it reaches the caller, so it is all a lease needs to be.
 */
export class ShortcutOwner implements StatementOwner {
  released = false;
  readonly connectionId: string;

  constructor(connectionId: string) {
    this.connectionId = connectionId;
  }

  end(): void {
    this.released = true;
  }
}

export type AsyncMethod = 'run' | 'get' | 'all' | 'exec';

interface Call extends StatementRequest {
  readonly kind: AsyncMethod;
}

const NO_ARGS: readonly unknown[] = [];

export function argsOf(params: BindParameters | undefined): readonly unknown[] {
  return params === undefined ? NO_ARGS : Array.isArray(params) ? params : [params];
}

/**
 * One statement of the async API, on a lease's connection: through the write gate when it writes,
 * waiting asynchronously for a lock held elsewhere, counted as one use of the connection and
 * reported to telemetry once (lock waits included in its duration). Returns the value where the
 * work was done at once, a promise where it had to wait or cross to another process.
 */
export function runStatement(
  ctx: RunContext,
  owner: StatementOwner,
  entry: LeasedConnection,
  kind: AsyncMethod,
  sql: string,
  params: BindParameters | undefined,
  options: QueryOptions | undefined,
  startedAt: number = now(),
): MaybePromise<unknown> {
  const info = ctx.catalog.get(sql, kind === 'exec' ? 'exec' : 'prepared');
  const telemetry = telemetryRegistry.active;
  const span = telemetry?.statementStarted(ctx.pool, entry.id, info, kind, kind === 'exec' ? NO_ARGS : argsOf(params));
  const call: Call = {
    kind,
    sql,
    method: kind === 'exec' ? 'run' : kind,
    params,
    modes: options?.safeIntegers === true ? StatementMode.SAFE_INTEGERS : StatementMode.NONE,
    timeoutMs: options?.timeoutMs ?? ctx.queryTimeoutMs,
  };
  let outcome: MaybePromise<unknown>;
  try {
    outcome = attempt(ctx, owner, entry, call, startedAt);
  } catch (error) {
    finish(ctx, telemetry, entry, info, kind, span, startedAt, error, undefined);
    throw error;
  }
  if (!(outcome instanceof Promise)) {
    finish(ctx, telemetry, entry, info, kind, span, startedAt, undefined, outcome);
    return outcome;
  }
  return (outcome as Promise<unknown>).then(
    (result) => {
      finish(ctx, telemetry, entry, info, kind, span, startedAt, undefined, result);
      return result;
    },
    (error: unknown) => {
      finish(ctx, telemetry, entry, info, kind, span, startedAt, error, undefined);
      throw error;
    },
  );
}

/**
 * The statement on the raw, synchronous API (`lease.connection`, `lease.prepare()`): counted and
 * reported like any other, but it cannot wait: a lock held elsewhere fails it at once with
 * `SQLITE_BUSY` (the event loop never sleeps in SQLite's busy handler).
 */
export function runSync<T>(ctx: RunContext, entry: LeasedConnection, info: StatementInfo, method: StatementMethod, args: ArrayLike<unknown>, run: () => T): T {
  const telemetry = telemetryRegistry.active;
  const startedAt = now();
  const span = telemetry?.statementStarted(ctx.pool, entry.id, info, method, args);
  let result: T;
  try {
    result = run();
  } catch (error) {
    finish(ctx, telemetry, entry, info, method, span, startedAt, error, undefined);
    throw error;
  }
  finish(ctx, telemetry, entry, info, method, span, startedAt, undefined, result);
  return result;
}

/**
 * One use of the connection, its failure classified, its telemetry ended: for every path.
 * `queryMs` is the time the statement ran, where it differs from the call's (an iterator runs
 * only while rows are pulled).
 */
export function finish(ctx: RunContext, telemetry: PoolTelemetry | undefined, entry: LeasedConnection, info: StatementInfo, method: StatementMethod, span: TraceHandle | undefined, startedAt: number, error: unknown, result: unknown, queryMs?: number): void {
  const endedAt = now();
  entry.healthy.recordUsage(queryMs ?? endedAt - startedAt, endedAt);
  if (error !== undefined) noteFailure(entry, error);
  telemetry?.statementEnded(ctx.pool, info, method, span, endedAt - startedAt, error, result);
}

/**
 * What a failure says about the connection: a closed handle retires it; a connection-level code
 * that may concern another file (an ATTACH of a missing file, a broken virtual table) only makes
 * it suspect: a deep probe decides before it is lent again.
 */
export function noteFailure(entry: LeasedConnection, error: unknown): void {
  const kind = failureKind(error);
  if (kind === 'closed') entry.healthy.markUnhealthy('error');
  else if (kind === 'suspect') entry.suspect = true;
}

function attempt(ctx: RunContext, owner: StatementOwner, entry: LeasedConnection, call: Call, startedAt: number): MaybePromise<unknown> {
  const backend = entry.backend;
  const readonly = call.kind === 'exec' ? false : backend.readonlyOf(call.sql, call.modes);
  if (readonly !== true && !ctx.gate.tryEnter(owner)) {
    // Someone else writes. A text the backend cannot tell about yet may be a read, and a read must
    // not wait for a writer (in WAL mode SQLite never makes it wait).
    if (readonly === undefined) return readOrWait(ctx, owner, entry, call, startedAt);
    return waitAndRun(ctx, owner, entry, call, startedAt, undefined);
  }
  let result: MaybePromise<unknown>;
  try {
    result = execute(backend, call);
  } catch (error) {
    if (retryable(error, call)) return waitAndRun(ctx, owner, entry, call, startedAt, error);
    leaveIfDone(ctx, owner, backend);
    throw error;
  }
  if (!(result instanceof Promise)) {
    leaveIfDone(ctx, owner, backend);
    return result;
  }
  return (result as Promise<unknown>).then(
    (value) => {
      leaveIfDone(ctx, owner, backend);
      return value;
    },
    (error: unknown) => {
      if (retryable(error, call)) return waitAndRun(ctx, owner, entry, call, startedAt, error);
      leaveIfDone(ctx, owner, backend);
      throw error;
    },
  );
}

/**
 * A text not known to read or to write (worker mode: new to the pool), while another lease holds
 * the write gate: one round trip runs it if it only reads, or finds that it writes, and then it
 * waits for the gate like any write.
 */
async function readOrWait(ctx: RunContext, owner: StatementOwner, entry: LeasedConnection, call: Call, startedAt: number): Promise<unknown> {
  const backend = entry.backend;
  let result: unknown;
  try {
    result = await backend.executeIfRead(call);
  } catch (error) {
    if (!retryable(error, call)) {
      leaveIfDone(ctx, owner, backend);
      throw error;
    }
    // Busy: a read (the failed attempt told) waits for the lock alone, anything else for the gate first.
    return waitAndRun(ctx, owner, entry, call, startedAt, backend.readonlyOf(call.sql, call.modes) === true ? error : undefined);
  }
  if (result === STATEMENT_WRITES) return waitAndRun(ctx, owner, entry, call, startedAt, undefined);
  leaveIfDone(ctx, owner, backend);
  return result;
}

/**
 * The slow path: wait for the write gate (`busy` undefined), or for a lock held elsewhere (after
 * `busy`, the `SQLITE_BUSY` the last attempt got), pausing asynchronously until the deadline.
 */
async function waitAndRun(ctx: RunContext, owner: StatementOwner, entry: LeasedConnection, call: Call, startedAt: number, busy: unknown): Promise<unknown> {
  const deadline = startedAt + ctx.busyTimeoutMs;
  const remaining = (): number => Math.max(0, deadline - now());
  try {
    if (busy === undefined) await ctx.gate.enter(owner, remaining());
    for (let attempt = 0; ; attempt++) {
      if (busy !== undefined) {
        if (remaining() === 0) throw new BusyTimeoutError(ctx.busyTimeoutMs, 'the database lock, held by another connection or process', busy);
        await pause(Math.min(lockRetryDelay(attempt), remaining()));
      }
      if (owner.released) throw new LeaseReleasedError(owner.connectionId);
      try {
        return await execute(entry.backend, call);
      } catch (error) {
        if (!retryable(error, call)) throw error;
        busy = error;
      }
    }
  } finally {
    leaveIfDone(ctx, owner, entry.backend);
  }
}

function execute(backend: ConnectionBackend, call: Call): MaybePromise<unknown> {
  return call.kind === 'exec' ? backend.exec(call.sql, call.timeoutMs) : backend.execute(call);
}

/**
 * A statement that got `SQLITE_BUSY` had no effect and can run again. A script of several
 * statements cannot: the ones before the busy one may have been applied.
 */
function retryable(error: unknown, call: Call): boolean {
  return failureKind(error) === 'busy' && (call.kind !== 'exec' || isSingleStatement(call.sql));
}

/**
 * Owners with writing iterations open, and how many. An iterated write (`INSERT ... RETURNING`)
 * keeps SQLite's write lock until its statement ends, outside any transaction: its owner keeps
 * the gate as long, though it runs other statements meanwhile (reads: better-sqlite3 refuses
 * writes on a connection with an open iterator), or the pool's next writer would take the gate
 * and poll a lock this owner holds instead of waiting in line.
 */
const writingIterations = new WeakMap<StatementOwner, number>();

/** A writing iteration of `owner`'s, holding the gate, has begun. */
export function holdGateForIteration(owner: StatementOwner): void {
  writingIterations.set(owner, (writingIterations.get(owner) ?? 0) + 1);
}

/** A writing iteration of `owner`'s has ended: the gate goes unless something else still needs it. */
export function endGateHoldForIteration(ctx: RunContext, owner: StatementOwner, backend: ConnectionBackend): void {
  const left = (writingIterations.get(owner) ?? 1) - 1;
  if (left > 0) writingIterations.set(owner, left);
  else writingIterations.delete(owner);
  leaveIfDone(ctx, owner, backend);
}

/** The gate is held while the connection is inside a write transaction or a writing iteration, and given up after. */
export function leaveIfDone(ctx: RunContext, owner: StatementOwner, backend: ConnectionBackend): void {
  if (ctx.gate.heldBy(owner) && !backend.inTransaction && !writingIterations.has(owner)) ctx.gate.leave(owner);
}
