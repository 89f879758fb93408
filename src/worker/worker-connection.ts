import { fork, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { HealthCheckError, QueryTimeoutError, WorkerExitedError } from '../errors.js';
import type { SerializedError, StatementRequest, WorkerOpenOptions, WorkerReady, WorkerResponse } from './protocol.js';
export { restoreBuffers } from './protocol.js';

/**
 * Starts the worker process: `connection-worker.js` next to this file once built; run from
 * TypeScript source (tests, tsx), the same file as `.ts` under tsx's loader. `advanced`
 * serialization keeps BigInt and binary values intact across the boundary.
 */
function startWorker(options: WorkerOpenOptions): ChildProcess {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL(fromSource ? './connection-worker.ts' : './connection-worker.js', import.meta.url);
  return fork(script, [], {
    serialization: 'advanced',
    execArgv: fromSource ? ['--import', 'tsx'] : [],
    env: { ...process.env, OTEL_SQLITE_POOL_WORKER: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

interface Pending {
  readonly resolve: (response: WorkerResponse) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout | undefined;
  readonly onTimeout: () => unknown;
}

/**
 * The pool's side of a connection that lives in a worker process. A connection runs one
 * statement at a time; a request with a timeout kills the worker when it runs over, which stops
 * the SQLite call for real (a worker thread could not be stopped inside SQLite). A crash or exit
 * fails every pending request with `WorkerExitedError` and marks the connection closed.
 */
export class WorkerConnection {
  readonly #worker: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #connectionId: string;
  #nextId = 1;
  #open = true;
  #inTransaction = false;
  #exitReason: string | undefined;
  /** Settles when the worker process has exited (after `close()`, a kill, or a crash). */
  readonly exited: Promise<void>;
  /** Called once when the worker stops for any reason other than `close()`. */
  onExit: ((reason: string) => void) | undefined;

  private constructor(worker: ChildProcess, connectionId: string) {
    this.#worker = worker;
    this.#connectionId = connectionId;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (response: WorkerResponse) => this.#settle(response));
    worker.on('error', (error) => this.#stopped(`failed: ${error.message}`, error));
    worker.on('exit', (code, signal) => this.#stopped(signal === null ? `exited with code ${code}` : `was killed by ${signal}`));
    // An idle pool must not keep the process alive through its workers' IPC channels.
    worker.unref();
    worker.channel?.unref();
  }

  /** Starts a worker and waits until its connection is open; rejects with the open error. */
  static open(options: WorkerOpenOptions, connectionId: string): Promise<WorkerConnection> {
    const worker = startWorker(options);
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      const onExit = (code: number | null): void => reject(new WorkerExitedError(connectionId, `exited with code ${code} before its connection opened`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (ready: WorkerReady) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (ready.ready) resolve(new WorkerConnection(worker, connectionId));
        else {
          worker.kill('SIGKILL');
          reject(deserialize(ready.error));
        }
      });
    });
  }

  get open(): boolean {
    return this.#open;
  }

  /** Whether the connection was inside a transaction after its last request. */
  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  /** The worker's process id (for diagnostics). */
  get pid(): number | undefined {
    return this.#worker.pid;
  }

  /**
   * Sends one request. With `timeoutMs`, a request still running then terminates the worker and
   * rejects with what `onTimeout` returns.
   */
  request(request: StatementRequest, timeoutMs?: number, onTimeout: () => unknown = () => new QueryTimeoutError('sql' in request ? request.sql : request.op, timeoutMs ?? 0)): Promise<WorkerResponse> {
    if (!this.#open) return Promise.reject(new WorkerExitedError(this.#connectionId, this.#exitReason ?? 'closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined || timeoutMs === Infinity
          ? undefined
          : setTimeout(() => this.#timedOut(id), Math.max(0, Math.min(timeoutMs, 2_147_483_647)));
      this.#pending.set(id, { resolve, reject, timer, onTimeout });
      // While a request is out, the pool is waiting on this worker: keep the process alive.
      if (this.#pending.size === 1) this.#worker.channel?.ref();
      this.#worker.send({ ...request, id });
    });
  }

  /** Closes the connection in the worker and waits for the process to end. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker.exitCode !== null || worker.signalCode !== null) return;
    worker.ref(); // someone awaits this close: the process must live until the worker is gone
    if (this.#open) {
      this.#open = false;
      this.#exitReason = 'closed';
      if (worker.connected) worker.send('close');
      else worker.kill('SIGKILL');
    }
    await this.exited;
  }

  /** Ends the process at once (a runaway statement, a stuck probe). */
  terminate(reason: string): void {
    this.#stopped(reason);
  }

  #settle(response: WorkerResponse): void {
    this.#inTransaction = response.inTransaction;
    if (!response.open) this.#open = false;
    const pending = this.#pending.get(response.id);
    if (pending === undefined) return;
    this.#pending.delete(response.id);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (this.#pending.size === 0) this.#worker.channel?.unref();
    pending.resolve(response);
  }

  #timedOut(id: number): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.reject(pending.onTimeout());
    this.#stopped('terminated after a timeout');
  }

  #stopped(reason: string, cause?: unknown): void {
    if (this.#exitReason !== undefined && !this.#open) {
      this.#failPending(reason, cause);
      return;
    }
    const wasOpen = this.#open;
    this.#open = false;
    this.#exitReason = reason;
    if (this.#worker.exitCode === null && this.#worker.signalCode === null) this.#worker.kill('SIGKILL');
    this.#failPending(reason, cause);
    if (wasOpen) this.onExit?.(reason);
  }

  #failPending(reason: string, cause: unknown): void {
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(new WorkerExitedError(this.#connectionId, reason, cause));
    }
  }
}

/** Rebuilds an error that crossed the thread boundary: a `SqliteError` keeps its code. */
export function deserialize(error: SerializedError): Error {
  if (error.fatal !== undefined) return new HealthCheckError(error.code ?? 'SQLITE_POOL_PROBE_FAILED', error.message, error.fatal);
  if (error.code !== undefined && error.code.startsWith('SQLITE_')) return new Database.SqliteError(error.message, error.code);
  const rebuilt = error.name === 'RangeError' ? new RangeError(error.message) : error.name === 'TypeError' ? new TypeError(error.message) : new Error(error.message);
  return rebuilt;
}

