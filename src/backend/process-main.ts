/**
 * The body of a child process that owns one better-sqlite3 connection. It opens the connection
 * from the options in its environment, then answers requests one at a time over IPC. The pool
 * kills the process when a statement or probe runs past its timeout: better-sqlite3 has no way to
 * interrupt a running statement, and a worker *thread* stuck in SQLite cannot be terminated
 * (V8 stops JavaScript, not native code), so a process is the only unit that can really be stopped.
 * Here, unlike on the pool's thread, SQLite's own busy handler may wait for a lock: only this
 * process blocks.
 */
import Database from 'better-sqlite3';
import { loadConnectFunction } from '../config/on-connect.js';
import { HealthProbe, fileIdentityOf } from './probe.js';
import { serializeError } from './error-transfer.js';
import { applyPragmas } from './pragmas.js';
import { restoreBuffers, type ChildOptions, type ChildReady, type ChildResponse, type IdentifiedRequest } from './protocol.js';
import { callStatement, type BindParameters } from './statement-call.js';
import { StatementCache, applyModes } from './statement-cache.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('process-main must run as a forked child process');
const post = (message: ChildReady | ChildResponse, done?: () => void): void => void send(message, undefined, undefined, done);
const options = JSON.parse(process.env.OTEL_SQLITE_POOL_CHILD ?? '{}') as ChildOptions;
// The pool going away (crash, kill) must take its connections with it.
process.on('disconnect', () => process.exit(0));

let db!: Database.Database; // assigned below, or the process exits
try {
  db = new Database(options.filename, { readonly: options.readonly, fileMustExist: options.fileMustExist, timeout: options.busyTimeoutMs });
  applyPragmas(db, options.pragmas);
  if (options.connectModule !== undefined) await (await loadConnectFunction(options.connectModule))(db);
} catch (error) {
  // Report, then leave; the wait keeps the rest of this module from running meanwhile.
  post({ ready: false, error: serializeError(error) }, () => process.exit(0));
  await new Promise(() => {});
}
const probe = new HealthProbe(db, fileIdentityOf(db.name));
const statements = new StatementCache<Database.Statement>(options.statementCacheSize);
const cursors = new Map<number, IterableIterator<unknown>>();
let nextCursor = 1;
/** Whether the statement of the request being handled only reads: reported even when running it fails. */
let preparedReadonly: boolean | undefined;

function prepare(sql: string, modes: number): Database.Statement {
  const statement = db.prepare(sql);
  applyModes(statement, modes);
  return statement;
}

function statementFor(sql: string, modes: number): Database.Statement {
  const statement = statements.get(sql, modes, prepare);
  preparedReadonly = statement.readonly;
  return statement;
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

function closeCursors(): void {
  for (const iterator of cursors.values()) iterator.return?.();
  cursors.clear();
}

/** What the request returned (`statementFor` notes whether its statement only reads). */
function handle(request: IdentifiedRequest): unknown {
  switch (request.op) {
    case 'all':
    case 'get':
    case 'run': {
      const statement = statementFor(request.sql, request.modes);
      if (request.readsOnly === true && !statement.readonly) return undefined;
      return callStatement(statement, request.op, restoreBuffers(request.params) as BindParameters | undefined);
    }
    case 'exec':
      db.exec(request.sql);
      return undefined;
    case 'iterate-open': {
      const statement = statementFor(request.sql, request.modes);
      const cursor = nextCursor++;
      const iterator = callStatement(statement, 'iterate', restoreBuffers(request.params) as BindParameters | undefined) as IterableIterator<unknown>;
      cursors.set(cursor, iterator);
      try {
        return batch(cursor, iterator, request.batchSize);
      } catch (error) {
        cursors.delete(cursor);
        throw error;
      }
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
      // Wait for a lock no longer than the probe may take, then restore the statements' timeout.
      db.pragma(`busy_timeout = ${Math.floor(request.timeoutMs)}`);
      try {
        probe.run(request.query, request.deep);
      } finally {
        if (db.open) db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
      }
      return true;
    case 'reset': {
      closeCursors();
      const rolledBack = db.open && db.inTransaction;
      if (rolledBack) db.exec('ROLLBACK');
      return rolledBack;
    }
  }
}

process.on('message', (request: IdentifiedRequest | 'close') => {
  if (request === 'close') {
    closeCursors();
    if (db.open) db.close();
    process.exit(0);
  }
  let response: ChildResponse;
  preparedReadonly = undefined;
  try {
    const result = handle(request);
    response = { id: request.id, ok: true, result, readonly: preparedReadonly, open: db.open, inTransaction: db.open && db.inTransaction };
  } catch (error) {
    response = { id: request.id, ok: false, error: serializeError(error), readonly: preparedReadonly, open: db.open, inTransaction: db.open && db.inTransaction };
  }
  post(response);
});

post({ ready: true });
