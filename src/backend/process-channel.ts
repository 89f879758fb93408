import { fork, type ChildProcess } from 'node:child_process';
import { QueryTimeoutError, WorkerExitedError } from '../errors.js';
import { deserializeError } from './error-transfer.js';
import type { ChildOptions, ChildReady, ChildRequest, ChildResponse } from './protocol.js';

/**
 * Starts the child: `process-main.js` next to this file once built; run from TypeScript source
 * (tests, tsx), the same file as `.ts` under tsx's loader. `advanced` serialization keeps BigInt
 * and binary values intact across the boundary.
 */
function startChild(options: ChildOptions): ChildProcess {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL(fromSource ? './process-main.ts' : './process-main.js', import.meta.url);
  return fork(script, [], {
    serialization: 'advanced',
    execArgv: fromSource ? ['--import', 'tsx'] : [],
    env: { ...process.env, OTEL_SQLITE_POOL_CHILD: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * Children still running. If this process exits without closing its pools (an uncaught
 * exception, `process.exit()`), they are killed with it: a child stuck in a runaway statement
 * cannot even notice that its parent is gone.
 */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function register(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const running of live) running.kill('SIGKILL');
  });
}

interface Pending {
  readonly resolve: (response: ChildResponse) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout | undefined;
  readonly onTimeout: () => unknown;
}

/**
 * The pool's end of one child process: requests and their responses, timeouts that kill, and the
 * process's end. A request with a timeout kills the child when it runs over, which stops the
 * SQLite call for real. A crash or exit fails every pending request with `WorkerExitedError`.
 */
export class ProcessChannel {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #exitReason: string | undefined;
  /** The last state the child reported. */
  open = true;
  inTransaction = false;
  label: string;
  /** Settles when the process has exited, whatever the cause. */
  readonly exited: Promise<void>;
  /** Called once when the child stops for a reason other than `close()`/`kill()` from the pool. */
  onLost: ((reason: string) => void) | undefined;

  private constructor(child: ChildProcess, label: string) {
    this.#child = child;
    this.label = label;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (response: ChildResponse) => this.#settle(response));
    child.on('error', (error) => this.#stopped(`failed: ${error.message}`, true, error));
    child.on('exit', (code, signal) => this.#stopped(signal === null ? `exited with code ${code}` : `was killed by ${signal}`, true));
    // An idle pool must not keep the process alive through its children's IPC channels.
    child.unref();
    child.channel?.unref();
  }

  /** Starts a child and waits until its connection is open; rejects with the open error. */
  static open(options: ChildOptions, label: string, signal?: AbortSignal): Promise<ProcessChannel> {
    signal?.throwIfAborted();
    const child = startChild(options);
    register(child);
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      let abandoned = false;
      const onExit = (code: number | null): void =>
        reject(abandoned ? (signal?.reason as Error) : new WorkerExitedError(label, `exited with code ${code} before its connection opened`));
      // Abandoned (the pool closes, the open ran out of time): the process goes, whatever it is
      // doing, and the open fails once it has exited, so no process outlives the pool's close().
      const onAbort = (): void => {
        abandoned = true;
        child.kill('SIGKILL');
      };
      child.once('error', onError);
      child.once('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      child.once('message', (ready: ChildReady) => {
        if (abandoned) return; // it is being killed; its exit rejects
        child.off('error', onError);
        child.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        if (ready.ready) resolve(new ProcessChannel(child, label));
        else {
          child.kill('SIGKILL');
          reject(deserializeError(ready.error));
        }
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Requests waiting for their response. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends one request. Past `timeoutMs`, a request still running kills the child and rejects with
   * what `onTimeout` returns (a `QueryTimeoutError` by default).
   */
  request(request: ChildRequest, timeoutMs = Infinity, onTimeout: () => unknown = () => new QueryTimeoutError('sql' in request ? request.sql : request.op, timeoutMs)): Promise<ChildResponse> {
    if (!this.open) return Promise.reject(new WorkerExitedError(this.label, this.#exitReason ?? 'closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === Infinity ? undefined : setTimeout(() => this.#timedOut(id), Math.max(0, Math.min(timeoutMs, 0x7fffffff)));
      this.#pending.set(id, { resolve, reject, timer, onTimeout });
      // While a request is out, a caller waits on this child: keep the process alive.
      if (this.#pending.size === 1) this.#child.channel?.ref();
      this.#child.send({ ...request, id });
    });
  }

  /** Ends the process gracefully (or at once if it is busy) and waits for it to be gone. */
  async close(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.ref(); // someone awaits this close: the process must live until the child is gone
    if (this.open && this.#pending.size === 0 && child.connected) {
      this.#stopped('closed', false);
      child.send('close');
    } else {
      this.kill('closed');
    }
    await this.exited;
  }

  /** Ends the process at once (a runaway statement, a stuck probe, `close()` past its deadline). */
  kill(reason: string): void {
    this.#child.ref();
    this.#stopped(reason, false);
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }

  #settle(response: ChildResponse): void {
    this.inTransaction = response.inTransaction;
    if (!response.open) this.open = false;
    const pending = this.#pending.get(response.id);
    if (pending === undefined) return;
    this.#pending.delete(response.id);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (this.#pending.size === 0) this.#child.channel?.unref();
    pending.resolve(response);
  }

  #timedOut(id: number): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.reject(pending.onTimeout());
    this.kill('terminated after a timeout');
    this.onLost?.('terminated after a timeout');
  }

  /** The child is gone or going: fail what waits on it, and tell the pool once if nobody asked for it. */
  #stopped(reason: string, unexpected: boolean, cause?: unknown): void {
    const first = this.#exitReason === undefined;
    this.#exitReason ??= reason;
    this.open = false;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(new WorkerExitedError(this.label, reason, cause));
    }
    if (this.#child.exitCode === null && this.#child.signalCode === null && unexpected) this.#child.kill('SIGKILL');
    if (first && unexpected) this.onLost?.(reason);
  }
}
