import type { BackendCursor, IterateRequest, RowBatch } from '../backend/backend.js';
import { now } from '../clock.js';
import { BusyTimeoutError, LeaseReleasedError } from '../errors.js';
import { lockRetryDelay, pause } from '../lock-wait.js';
import type { LeasedConnection } from './leased-connection.js';
import { failureKind } from '../sqlite-errors.js';
import { telemetryRegistry, type PoolTelemetry, type TraceHandle } from '../telemetry/pool-telemetry.js';
import type { StatementInfo } from './statement-catalog.js';
import { argsOf, endGateHoldForIteration, finish, holdGateForIteration, type RunContext, type StatementOwner } from './statement-runner.js';

/** Something a lease opened that must stop when the lease ends. */
export interface OpenWork {
  /** The lease ended: stop, and report what ran. */
  end(): void;
}

/**
 * `lease.iterate()`: rows as the caller pulls them (in worker mode `batchSize` rows per round
 * trip). One use of the connection and one span, from the call until the last row, an early
 * `return()`, an error, or the end of the lease, whichever comes first. A statement that writes
 * (`INSERT ... RETURNING`), or that the backend cannot tell reads only, goes through the write gate
 * at its first pull and holds it until it ends, as SQLite holds its write lock. After the lease ended,
 * `next()` rejects with `LeaseReleasedError`; the connection's cursor was closed before the
 * connection was lent again.
 */
export class Iteration<T> implements AsyncIterableIterator<T>, OpenWork {
  readonly #ctx: RunContext;
  readonly #owner: StatementOwner;
  readonly #entry: LeasedConnection;
  readonly #info: StatementInfo;
  readonly #request: IterateRequest;
  readonly #cursor: BackendCursor;
  readonly #telemetry: PoolTelemetry | undefined;
  readonly #span: TraceHandle | undefined;
  readonly #startedAt = now();
  readonly #ended: (work: OpenWork) => void;
  #rows: unknown[] = [];
  #index = 0;
  #last = false;
  #pulled = false;
  #finished = false;
  /** Whether this iteration holds the pool's write gate. */
  #holdsGate = false;
  /** Time spent pulling rows: the statement runs only then (the connection's query time). */
  #pullMs = 0;

  constructor(ctx: RunContext, owner: StatementOwner, entry: LeasedConnection, info: StatementInfo, request: IterateRequest, ended: (work: OpenWork) => void) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.#entry = entry;
    this.#info = info;
    this.#ended = ended;
    this.#request = request;
    this.#cursor = entry.backend.iterate(request);
    this.#telemetry = telemetryRegistry.active;
    this.#span = this.#telemetry?.statementStarted(ctx.pool, entry.id, info, 'iterate', argsOf(request.params));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.#owner.released) {
      this.end();
      throw new LeaseReleasedError(this.#owner.connectionId);
    }
    if (this.#index < this.#rows.length) return { value: this.#rows[this.#index++] as T, done: false };
    if (this.#last || this.#finished) {
      this.#finish(undefined);
      return { value: undefined, done: true };
    }
    let batch: RowBatch;
    const pullStartedAt = now();
    try {
      batch = await this.#pull();
    } catch (error) {
      this.#pullMs += now() - pullStartedAt;
      this.#finish(error);
      throw error;
    }
    this.#pullMs += now() - pullStartedAt;
    this.#pulled = true;
    // Worker mode knows after the first batch whether the statement only reads: a read lets the gate go.
    if (this.#holdsGate && this.#entry.backend.readonlyOf(this.#request.sql, this.#request.modes) === true) this.#releaseGate();
    if (this.#owner.released) return this.next();
    this.#rows = batch.rows;
    this.#index = 0;
    this.#last = batch.done;
    return this.next();
  }

  /** The caller stopped early (`break` in `for await`): the statement stops. */
  async return(): Promise<IteratorResult<T, undefined>> {
    if (!this.#finished && !this.#owner.released) await this.#cursor.close();
    this.#finish(undefined);
    return { value: undefined, done: true };
  }

  end(): void {
    this.#finish(undefined);
  }

  /** The next batch; the first pull waits out a lock held elsewhere, as statements do. */
  async #pull(): Promise<RowBatch> {
    const deadline = this.#startedAt + this.#ctx.busyTimeoutMs;
    if (!this.#pulled && !this.#holdsGate) {
      const entering = this.#enterGateIfWriting(deadline);
      if (entering !== undefined) await entering;
      if (this.#finished) return { rows: [], done: true };
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#cursor.next();
      } catch (error) {
        if (failureKind(error) !== 'busy' || this.#pulled) throw error;
        if (now() >= deadline) throw new BusyTimeoutError(this.#ctx.busyTimeoutMs, 'the database lock, held by another connection or process', error);
        await pause(Math.min(lockRetryDelay(attempt), Math.max(0, deadline - now())));
        if (this.#owner.released) throw new LeaseReleasedError(this.#owner.connectionId);
      }
    }
  }

  /**
   * Writes wait for the gate (within the same `busyTimeoutMs` as the lock), in order with the
   * pool's other writers; a promise only where they have to wait.
   */
  #enterGateIfWriting(deadline: number): Promise<void> | undefined {
    if (this.#entry.backend.readonlyOf(this.#request.sql, this.#request.modes) === true) return undefined;
    const gate = this.#ctx.gate;
    if (!gate.tryEnter(this.#owner)) return gate.enter(this.#owner, Math.max(0, deadline - now())).then(() => this.#holdGate());
    this.#holdGate();
    return undefined;
  }

  #holdGate(): void {
    this.#holdsGate = true;
    holdGateForIteration(this.#owner);
    // Ended (return(), the lease) while it waited: nothing will run, so the gate goes at once.
    if (this.#finished) this.#releaseGate();
  }

  #releaseGate(): void {
    if (!this.#holdsGate) return;
    this.#holdsGate = false;
    endGateHoldForIteration(this.#ctx, this.#owner, this.#entry.backend);
  }

  #finish(error: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#releaseGate();
    this.#ended(this);
    finish(this.#ctx, this.#telemetry, this.#entry, this.#info, 'iterate', this.#span, this.#startedAt, error, undefined, this.#pullMs);
  }
}
