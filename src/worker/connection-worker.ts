/**
 * The body of a worker process that owns one better-sqlite3 connection. It opens the connection
 * from the options in its environment, then answers requests one at a time over IPC. The pool
 * kills the process when a statement or probe runs past its timeout: better-sqlite3 has no way to
 * interrupt a running statement, and a worker *thread* stuck in SQLite cannot be terminated
 * (V8 stops JavaScript, not native code), so a process is the only unit that can really be stopped.
 */
import Database from 'better-sqlite3';
import { HealthCheckConfig } from '../config.js';
import { HealthCheckError } from '../errors.js';
import { HealthProbe, fileIdentityOf } from '../health-probe.js';
import { restoreBuffers, type SerializedError, type WorkerOpenOptions, type WorkerRequest, type WorkerResponse, type WorkerReady } from './protocol.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('connection-worker must run as a forked worker process');
const options = JSON.parse(process.env.OTEL_SQLITE_POOL_WORKER ?? '{}') as WorkerOpenOptions;
const port = {
  postMessage: (message: unknown, done?: () => void): void => void send(message, undefined, undefined, done),
  on: (event: 'message', listener: (message: WorkerRequest | 'close') => void): void => void process.on(event, listener),
  close: (): void => process.disconnect(),
};
// The pool going away (crash, kill) must take its connections with it.
process.on('disconnect', () => process.exit(0));

let db!: Database.Database; // assigned below, or the process exits
try {
  db = new Database(options.filename, { readonly: options.readonly, fileMustExist: options.fileMustExist, timeout: options.busyTimeoutMs });
  for (const [name, value] of Object.entries(options.pragmas)) db.pragma(`${name} = ${String(value)}`);
} catch (error) {
  // Report, then leave; the wait keeps the rest of this module from running meanwhile.
  port.postMessage({ ready: false, error: serialize(error) } satisfies WorkerReady, () => process.exit(0));
  await new Promise(() => {});
}
const probe = new HealthProbe(db, fileIdentityOf(db.name), options.busyTimeoutMs);
const statements = new Map<string, Database.Statement>();
const cursors = new Map<number, IterableIterator<unknown>>();
let nextCursor = 1;

function statement(sql: string, safeIntegers: boolean): Database.Statement {
  let prepared = statements.get(sql);
  if (prepared === undefined) {
    prepared = db.prepare(sql);
    if (statements.size >= options.statementCacheSize) {
      const oldest = statements.keys().next();
      if (oldest.done !== true) statements.delete(oldest.value);
    }
    if (options.statementCacheSize > 0) statements.set(sql, prepared);
  }
  // safeIntegers() is sticky on a statement: set it both ways so the cache never leaks a mode.
  if (prepared.reader) prepared.safeIntegers(safeIntegers);
  return prepared;
}

function call(prepared: Database.Statement, method: 'all' | 'get' | 'run' | 'iterate', rawParams: unknown): unknown {
  const fn = prepared[method] as (...args: unknown[]) => unknown;
  const params = restoreBuffers(rawParams);
  if (params === undefined) return fn.call(prepared);
  if (Array.isArray(params)) return fn.apply(prepared, params);
  return fn.call(prepared, params);
}

function batch(cursor: number, iterator: IterableIterator<unknown>, size: number): { cursor: number; rows: unknown[]; done: boolean } {
  const rows: unknown[] = [];
  while (rows.length < size) {
    const step = iterator.next();
    if (step.done === true) {
      cursors.delete(cursor);
      return { cursor, rows, done: true };
    }
    rows.push(step.value);
  }
  return { cursor, rows, done: false };
}

function handle(request: WorkerRequest): unknown {
  switch (request.op) {
    case 'all':
    case 'get':
    case 'run':
      return call(statement(request.sql, request.safeIntegers), request.op, request.params);
    case 'exec':
      db.exec(request.sql);
      return undefined;
    case 'iterate-open': {
      const cursor = nextCursor++;
      const iterator = call(statement(request.sql, request.safeIntegers), 'iterate', request.params) as IterableIterator<unknown>;
      cursors.set(cursor, iterator);
      return batch(cursor, iterator, request.batchSize);
    }
    case 'iterate-next': {
      const iterator = cursors.get(request.cursor);
      if (iterator === undefined) return { cursor: request.cursor, rows: [], done: true };
      return batch(request.cursor, iterator, request.batchSize);
    }
    case 'iterate-close':
      cursors.get(request.cursor)?.return?.();
      cursors.delete(request.cursor);
      return undefined;
    case 'probe':
      probe.run(new HealthCheckConfig({ query: request.query, timeoutMs: request.timeoutMs }));
      return true;
    case 'state':
      return undefined;
  }
}

port.on('message', (request: WorkerRequest | 'close') => {
  if (request === 'close') {
    for (const iterator of cursors.values()) iterator.return?.();
    if (db.open) db.close();
    process.exit(0);
  }
  const startedAt = performance.now();
  let response: WorkerResponse;
  try {
    const result = handle(request);
    response = { id: request.id, ok: true, result, durationMs: performance.now() - startedAt, open: db.open, inTransaction: db.open && db.inTransaction };
  } catch (error) {
    response = { id: request.id, ok: false, error: serialize(error), durationMs: performance.now() - startedAt, open: db.open, inTransaction: db.open && db.inTransaction };
  }
  port.postMessage(response);
});

port.postMessage({ ready: true } satisfies WorkerReady);

function serialize(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      code: typeof code === 'string' ? code : undefined,
      fatal: error instanceof HealthCheckError ? error.fatal : undefined,
    };
  }
  return { name: 'Error', message: String(error), code: undefined, fatal: undefined };
}
