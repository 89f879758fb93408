import { HealthCheckError } from '../errors.js';
import { STATEMENT_WRITES, type BackendCursor, type ConnectionBackend, type IterateRequest, type ProbeRequest, type RowBatch, type StatementRequest } from './backend.js';
import type { BackendOptions } from './backend-options.js';
import { deserializeError } from './error-transfer.js';
import { ProcessChannel } from './process-channel.js';
import { restoreBuffers, type ChildRequest, type ChildResponse } from './protocol.js';
import type { ReadonlyTexts } from './readonly-texts.js';

/**
 * A connection that lives in its own child process (worker mode): every statement is a round
 * trip, a statement or probe past its timeout kills the process (which really stops it), and a
 * crash is reported through `onLost`. The child may block on a lock in SQLite's busy handler; the
 * pool's event loop never does.
 */
export class ProcessBackend implements ConnectionBackend {
  readonly sync = undefined;
  readonly #channel: ProcessChannel;
  /**
   * Whether each text only reads, as this pool's children said when they prepared it: shared, so
   * that a text new to this connection but known to the pool is known here before it runs.
   */
  readonly #readonlyTexts: ReadonlyTexts;
  /** Cursors open in the child (closed by `reset()`). */
  #cursors = 0;

  private constructor(channel: ProcessChannel, options: BackendOptions) {
    this.#channel = channel;
    this.#readonlyTexts = options.readonlyTexts;
  }

  static async open(options: BackendOptions): Promise<ProcessBackend> {
    const channel = await ProcessChannel.open(
      {
        filename: options.filename,
        readonly: options.readonly,
        fileMustExist: options.fileMustExist,
        busyTimeoutMs: options.busyTimeoutMs,
        pragmas: options.pragmas,
        statementCacheSize: options.statementCacheSize,
        connectModule: options.onConnect?.module,
      },
      options.label,
      options.signal,
    );
    return new ProcessBackend(channel, options);
  }

  /** The child's process id (diagnostics). */
  get pid(): number | undefined {
    return this.#channel.pid;
  }

  /** Settles once the child process has exited, whatever the cause. */
  get exited(): Promise<void> {
    return this.#channel.exited;
  }

  get label(): string {
    return this.#channel.label;
  }

  set label(label: string) {
    this.#channel.label = label;
  }

  get onLost(): ((reason: string) => void) | undefined {
    return this.#channel.onLost;
  }

  set onLost(listener: ((reason: string) => void) | undefined) {
    this.#channel.onLost = listener;
  }

  get open(): boolean {
    return this.#channel.open;
  }

  get inTransaction(): boolean {
    return this.#channel.inTransaction;
  }

  /** Modes do not matter: they shape a statement's rows, not whether it writes. */
  readonlyOf(sql: string): boolean | undefined {
    return this.#readonlyTexts.get(sql);
  }

  execute(request: StatementRequest): Promise<unknown> {
    const { sql, method, params, modes, timeoutMs } = request;
    return this.#send({ op: method, sql, params, modes }, timeoutMs, sql);
  }

  async executeIfRead(request: StatementRequest): Promise<unknown> {
    const { sql, method, params, modes, timeoutMs } = request;
    const response = await this.#channel.request({ op: method, sql, params, modes, readsOnly: true }, timeoutMs);
    const result = this.#answer(response, sql);
    // The child prepared it, found that it writes, and did not run it.
    return response.readonly === false ? STATEMENT_WRITES : result;
  }

  async exec(sql: string, timeoutMs: number): Promise<void> {
    await this.#send({ op: 'exec', sql }, timeoutMs);
  }

  iterate(request: IterateRequest): BackendCursor {
    let cursor: number | undefined;
    let done = false;
    const { sql, params, modes, batchSize, timeoutMs } = request;
    return {
      next: async (): Promise<RowBatch> => {
        const page =
          cursor === undefined
            ? ((await this.#send({ op: 'iterate-open', sql, params, modes, batchSize }, timeoutMs, sql)) as { cursor: number; rows: unknown[]; done: boolean })
            : ((await this.#send({ op: 'iterate-next', cursor, batchSize }, timeoutMs)) as { cursor: number; rows: unknown[]; done: boolean });
        if (cursor === undefined && !page.done) this.#cursors++;
        cursor = page.cursor;
        if (page.done && !done) this.#closed(cursor);
        done ||= page.done;
        return { rows: page.rows, done: page.done };
      },
      close: async (): Promise<void> => {
        if (cursor === undefined || done) return;
        done = true;
        this.#closed(cursor);
        if (this.#channel.open) await this.#send({ op: 'iterate-close', cursor }, Infinity);
      },
    };
  }

  async probe({ query, timeoutMs, deep }: ProbeRequest): Promise<void> {
    let response: ChildResponse;
    try {
      response = await this.#channel.request({ op: 'probe', query, timeoutMs, deep }, timeoutMs, () =>
        new HealthCheckError('SQLITE_POOL_PROBE_TIMEOUT', `The probe ran longer than timeoutMs (${timeoutMs} ms); its process was killed`, true),
      );
    } catch (error) {
      if (error instanceof HealthCheckError) throw error;
      throw new HealthCheckError('SQLITE_POOL_WORKER_EXITED', error instanceof Error ? error.message : String(error), true, { cause: error });
    }
    if (!response.ok) {
      const error = deserializeError(response.error);
      throw error instanceof HealthCheckError ? error : new HealthCheckError(response.error.code ?? 'SQLITE_POOL_PROBE_FAILED', error.message, false, { cause: error });
    }
  }

  reset(graceMs: number): Promise<boolean> | false {
    const channel = this.#channel;
    if (channel.pending === 0 && this.#cursors === 0 && !channel.inTransaction) return false;
    return this.#resetAfter(graceMs);
  }

  close(): Promise<void> {
    return this.#channel.close();
  }

  kill(reason: string): void {
    this.#channel.kill(reason);
  }

  /**
   * One 'reset' round trip. It queues behind any statement still running in the child, so its
   * answer means they finished; past `graceMs` the child is killed instead (and replaced).
   */
  async #resetAfter(graceMs: number): Promise<boolean> {
    const response = await this.#channel.request({ op: 'reset' }, graceMs, () => new Error(`${this.label} still ran statements ${graceMs} ms after its lease ended; its process was killed`));
    this.#cursors = 0;
    if (!response.ok) throw deserializeError(response.error);
    if (this.#channel.inTransaction) throw new Error(`${this.label} is still inside a transaction after ROLLBACK`);
    return response.result === true;
  }

  #closed(cursor: number | undefined): void {
    if (cursor !== undefined) this.#cursors = Math.max(0, this.#cursors - 1);
  }

  async #send(request: ChildRequest, timeoutMs: number, sql?: string): Promise<unknown> {
    return this.#answer(await this.#channel.request(request, timeoutMs), sql);
  }

  /** The result, or the error, of one response; what it says about its statement text is learned first. */
  #answer(response: ChildResponse, sql: string | undefined): unknown {
    if (sql !== undefined && response.readonly !== undefined) this.#readonlyTexts.learn(sql, response.readonly);
    if (!response.ok) throw deserializeError(response.error);
    return restoreBuffers(response.result);
  }
}
