/** Counts the work a set of queues has started or queued and not yet settled. */
export interface PendingCounter {
  pending: number;
}

/**
 * Work that must not overlap on one connection, run one piece after another in the order it was
 * queued: the savepoints of one transaction are a stack in SQLite, so two nested transactions (or
 * a nested one and a statement of the scope around it) that interleaved would release or roll back
 * each other's writes. Work queued while nothing runs starts at once, without a promise turn.
 */
export class SerialQueue {
  /** Settles when the last piece of work queued so far has settled; unset while nothing is queued. */
  #tail: Promise<void> | undefined;
  readonly #counter: PendingCounter | undefined;

  constructor(counter?: PendingCounter) {
    this.#counter = counter;
  }

  /** Whether work is running or waiting: anything queued now waits for it. */
  get busy(): boolean {
    return this.#tail !== undefined;
  }

  /** Runs `work` once everything queued before it has settled (whether it failed or not). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let run: Promise<T>;
    if (previous !== undefined) run = previous.then(work);
    else {
      try {
        run = work();
      } catch (error) {
        run = Promise.reject(error);
      }
    }
    const counter = this.#counter;
    if (counter !== undefined) counter.pending++;
    const settled: Promise<void> = run.then(
      () => this.#settled(settled),
      () => this.#settled(settled),
    );
    this.#tail = settled;
    return run;
  }

  /** Settles when everything queued so far has settled; `undefined` when nothing is queued. */
  drained(): Promise<void> | undefined {
    return this.#tail;
  }

  #settled(settled: Promise<void>): void {
    const counter = this.#counter;
    if (counter !== undefined) counter.pending--;
    if (this.#tail === settled) this.#tail = undefined;
  }
}
