import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { HealthCheckError, QueryTimeoutError, WorkerExitedError } from '../errors.js';
import type { SerializedError, StatementRequest, WorkerOpenOptions, WorkerReady, WorkerResponse } from './protocol.js';
export { restoreBuffers } from './protocol.js';

/** The worker script next to this file: `.js` once built, `.ts` when run from source (tests, tsx). */
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './connection-worker.ts' : './connection-worker.js', import.meta.url);
const workerExecArgv = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [];

interface Pending {
  readonly resolve: (response: WorkerResponse) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout | undefined;
  readonly onTimeout: () => unknown;
}

/**
 * The main thread's side of a connection that lives in a worker thread. Requests go one at a
 * time (a connection runs one statement at a time anyway); a request with a timeout terminates the
 * worker when it runs over, which stops the SQLite call for real. A crash or exit fails every
 * pending request with `WorkerExitedError` and marks the connection closed.
 */
export class WorkerConnection {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #connectionId: string;
  #nextId = 1;
  #open = true;
  #inTransaction = false;
  #exitReason: string | undefined;
  /** Called once when the worker stops for any reason other than `close()`. */
  onExit: ((reason: string) => void) | undefined;

  private constructor(worker: Worker, connectionId: string) {
    this.#worker = worker;
    this.#connectionId = connectionId;
    worker.on('message', (response: WorkerResponse) => this.#settle(response));
    worker.on('error', (error) => this.#stopped(`crashed: ${error.message}`, error));
    worker.on('exit', (code) => this.#stopped(`exited with code ${code}`));
  }

  /** Starts a worker and waits until its connection is open; rejects with the open error. */
  static open(options: WorkerOpenOptions, connectionId: string): Promise<WorkerConnection> {
    const worker = new Worker(workerUrl, { workerData: options, execArgv: workerExecArgv });
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      const onExit = (code: number): void => reject(new WorkerExitedError(connectionId, `exited with code ${code} before its connection opened`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (ready: WorkerReady) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (ready.ready) resolve(new WorkerConnection(worker, connectionId));
        else {
          void worker.terminate();
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

  /** The worker's thread id (for diagnostics). */
  get threadId(): number {
    return this.#worker.threadId;
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
      this.#worker.postMessage({ ...request, id });
    });
  }

  /** Closes the connection in the worker and ends the thread. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#exitReason = 'closed';
    this.#worker.postMessage('close');
    await this.#worker.terminate();
  }

  /** Ends the thread at once (a runaway statement, a stuck probe). */
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
    void this.#worker.terminate();
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

