import { isConnectionFatal, QueryTimeoutError, WorkerExitedError } from './errors.js';
import type { PooledConnection } from './pooled-connection.js';
import { callStatement, type BindParameters } from './statement-call.js';
import { telemetryRegistry, type ObservedPool } from './telemetry/pool-telemetry.js';
import { deserialize, restoreBuffers } from './worker/worker-connection.js';
import type { StatementRequest } from './worker/protocol.js';

/** Options of one statement run through the async API (lease methods and the pool's shortcuts). */
export interface QueryOptions {
  /**
   * Worker mode: a statement still running after this many milliseconds is stopped (its worker is
   * terminated and replaced) and rejects with `QueryTimeoutError`. The in-thread mode cannot
   * interrupt a running statement and ignores it.
   * @default the pool's `queryTimeoutMs`
   */
  timeoutMs?: number;
  /** Return integers as BigInt (better-sqlite3's `safeIntegers`). @default false */
  safeIntegers?: boolean;
  /** `iterate()`: rows fetched from the worker per round trip. @default 100 */
  batchSize?: number;
}

export type AsyncMethod = 'all' | 'get' | 'run' | 'exec';

/** The pool settings a statement needs. */
export interface StatementContext {
  readonly pool: ObservedPool;
  readonly queryTimeoutMs: number;
}

const RESOLVED = Promise.resolve(undefined);

/**
 * Runs one statement on a pooled connection and settles a promise with what better-sqlite3
 * returns, in either mode: in-thread it runs synchronously (counted and traced by the connection's
 * wrappers); in worker mode it is a round trip, counted and traced here.
 */
export function runStatement(context: StatementContext, pooled: PooledConnection, method: AsyncMethod, sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): Promise<unknown> {
  const worker = pooled.healthy.worker;
  if (worker === undefined) {
    try {
      if (method === 'exec') {
        pooled.db.exec(sql);
        return RESOLVED;
      }
      return Promise.resolve(runInThread(pooled, method, sql, params, options?.safeIntegers));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const request: StatementRequest = method === 'exec' ? { op: 'exec', sql } : { op: method, sql, params, safeIntegers: options?.safeIntegers ?? false };
  return roundTrip(context, pooled, method, sql, request, options?.timeoutMs ?? context.queryTimeoutMs, params);
}

function runInThread(pooled: PooledConnection, method: 'all' | 'get' | 'run', sql: string, params: BindParameters | undefined, safeIntegers: boolean | undefined): unknown {
  const statement = pooled.statement(sql);
  if (safeIntegers === undefined || !statement.reader) return callStatement(statement, method, params);
  // safeIntegers() sticks to a cached statement: set it for this call only.
  statement.safeIntegers(safeIntegers);
  try {
    return callStatement(statement, method, params);
  } finally {
    statement.safeIntegers(false);
  }
}

/** One request to the connection's worker, with usage, classification and a span around it. */
function roundTrip(context: StatementContext, pooled: PooledConnection, method: AsyncMethod | 'iterate', sql: string, request: StatementRequest, timeoutMs: number, params: BindParameters | undefined): Promise<unknown> {
  const healthy = pooled.healthy;
  const worker = healthy.worker;
  if (worker === undefined) return Promise.reject(new TypeError('roundTrip needs a worker connection'));
  const send = async (): Promise<unknown> => {
    try {
      const response = await worker.request(request, timeoutMs);
      healthy.recordUsage(response.durationMs);
      if (!response.ok) {
        const error = deserialize(response.error);
        if (isConnectionFatal(error)) healthy.markUnhealthy();
        throw error;
      }
      return restoreBuffers(response.result);
    } catch (error) {
      // A statement stopped by its timeout, or a crashed worker: the connection is gone.
      if (error instanceof QueryTimeoutError || error instanceof WorkerExitedError) healthy.markUnhealthy();
      throw error;
    }
  };
  const telemetry = telemetryRegistry.active;
  if (telemetry === undefined) return send();
  const info = pooled.statementInfo(sql, method === 'exec' ? 'exec' : 'prepared');
  const args = params === undefined ? [] : Array.isArray(params) ? params : [params];
  return telemetry.executeStatementAsync(context.pool, healthy, info, method, send, args);
}

/**
 * Streams rows in batches: in-thread from better-sqlite3's iterator, in worker mode `batchSize`
 * rows per round trip, closing the worker's cursor if the caller stops early.
 */
export async function* iterateStatement<T>(context: StatementContext, pooled: PooledConnection, sql: string, params: BindParameters | undefined, options: QueryOptions | undefined): AsyncGenerator<T, void, undefined> {
  const worker = pooled.healthy.worker;
  if (worker === undefined) {
    const iterator = callStatement(pooled.statement(sql), 'iterate', params) as IterableIterator<T>;
    try {
      for (const row of iterator) yield row;
    } finally {
      iterator.return?.();
    }
    return;
  }
  const batchSize = options?.batchSize ?? 100;
  const timeoutMs = options?.timeoutMs ?? context.queryTimeoutMs;
  let page = (await roundTrip(context, pooled, 'iterate', sql, { op: 'iterate-open', sql, params, safeIntegers: options?.safeIntegers ?? false, batchSize }, timeoutMs, params)) as { cursor: number; rows: T[]; done: boolean };
  try {
    for (;;) {
      for (const row of page.rows) yield row;
      if (page.done) return;
      const response = await worker.request({ op: 'iterate-next', cursor: page.cursor, batchSize }, timeoutMs);
      if (!response.ok) throw deserialize(response.error);
      page = restoreBuffers(response.result) as typeof page;
    }
  } finally {
    if (!page.done && worker.open) await worker.request({ op: 'iterate-close', cursor: page.cursor });
  }
}
