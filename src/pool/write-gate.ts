import { BusyTimeoutError } from '../errors.js';
import { DeadlineQueue, type Queued } from './deadline-queue.js';
import type { Housekeeper } from './housekeeper.js';
import type { WriteGateway } from '../lease/leased-connection.js';

interface GateWaiter extends Queued {
  readonly owner: object;
  readonly timeoutMs: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * One writer at a time among the pool's connections, on every write path: the shortcuts, a
 * writing statement through `get`/`all`, the lease's methods, transactions. SQLite allows one
 * writer per file; a second connection that tried to write while another holds the lock would
 * only get `SQLITE_BUSY` and retry. Writers of this pool queue here instead, in order, without
 * blocking the event loop. The holder is a lease: it keeps the gate while its connection is
 * inside a write transaction and re-enters it freely (a shortcut inside its transaction does).
 *
 * A writer waits while holding its connection, never the other way round, so the gate and the
 * pool cannot wait on each other: whoever holds the gate already has a connection.
 */
export class WriteGate implements WriteGateway {
  #holder: object | undefined;
  readonly #queue: DeadlineQueue<GateWaiter>;

  constructor(housekeeper: Housekeeper) {
    this.#queue = new DeadlineQueue<GateWaiter>(housekeeper, 'write-gate-deadline', {
      expired: (waiter) => waiter.reject(new BusyTimeoutError(waiter.timeoutMs, 'the write lock, held by another connection of this pool')),
      aborted: (waiter) => waiter.reject(waiter.signal?.reason),
    });
  }

  get held(): boolean {
    return this.#holder !== undefined;
  }

  /** Writers waiting for the gate. */
  get waiting(): number {
    return this.#queue.size;
  }

  heldBy(owner: object): boolean {
    return this.#holder === owner;
  }

  /** Takes the gate now if it is free (or already `owner`'s); never waits. */
  tryEnter(owner: object): boolean {
    if (this.#holder === undefined) this.#holder = owner;
    return this.#holder === owner;
  }

  /** Resolves once `owner` holds the gate; rejects with `BusyTimeoutError` after `timeoutMs`. */
  enter(owner: object, timeoutMs: number): Promise<void> {
    if (this.tryEnter(owner)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#queue.push({ owner, deadline: performance.now() + timeoutMs, timeoutMs, signal: undefined, resolve, reject }));
  }

  /** `owner` is done writing: the next writer in line gets the gate. */
  leave(owner: object): void {
    if (this.#holder !== owner) return;
    const next = this.#queue.shift();
    this.#holder = next?.owner;
    next?.resolve();
  }

  /** A lease ended: its waits are over (rejected with what `error` makes) and its hold released. */
  abandon(owner: object, error: () => unknown): void {
    if (this.#queue.size > 0) for (const waiter of this.#queue.removeWhere((w) => w.owner === owner)) waiter.reject(error());
    this.leave(owner);
  }

  /** The pool is closing: every writer in line is rejected. */
  drain(error: unknown): void {
    for (const waiter of this.#queue.drain()) waiter.reject(error);
  }
}
