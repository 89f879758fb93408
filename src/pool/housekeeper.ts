/**
 * The only owner of the pool's timers. Every delayed job (a monitoring cycle, the next acquire or
 * write-gate deadline, the next leak check, a retry after a failed open, the close deadline) is a
 * named task here, and one `unref()`ed timer fires for the earliest. An idle pool therefore never
 * keeps the process alive, and `stop()` leaves nothing behind.
 *
 * A task that throws is caught: it is reported once (per task name) through `onTaskError`, and
 * every other task stays armed. No user callback reached from a task (a logger, a hook) can stop
 * the pool's clock.
 */
export class Housekeeper {
  readonly #tasks = new Map<string, { dueAt: number; run: () => void; keepAlive: boolean }>();
  readonly #onTaskError: (name: string, error: unknown) => void;
  readonly #reported = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #timerDueAt = Infinity;
  #stopped = false;

  constructor(onTaskError: (name: string, error: unknown) => void = () => {}) {
    this.#onTaskError = onTaskError;
  }

  /**
   * Runs `run` after `delayMs`, replacing any task already scheduled under `name`. A `keepAlive`
   * task (a caller awaits its outcome) holds the process open until it runs.
   */
  schedule(name: string, delayMs: number, run: () => void, options: { keepAlive?: boolean } = {}): void {
    if (this.#stopped) return;
    this.#tasks.set(name, { dueAt: performance.now() + Math.max(0, delayMs), run, keepAlive: options.keepAlive ?? false });
    this.#arm();
  }

  /** Whether a task is waiting under `name`. */
  has(name: string): boolean {
    return this.#tasks.has(name);
  }

  cancel(name: string): void {
    // Re-arm: the timer may have been for this task, or kept the process alive for it.
    if (this.#tasks.delete(name)) this.#arm();
  }

  /** Cancels every task and the timer; later `schedule` calls are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#tasks.clear();
    this.#disarm();
  }

  #arm(): void {
    let earliest = Infinity;
    let keepAlive = false;
    for (const task of this.#tasks.values()) {
      earliest = Math.min(earliest, task.dueAt);
      keepAlive ||= task.keepAlive;
    }
    if (earliest === this.#timerDueAt && this.#timer?.hasRef() === keepAlive) return;
    this.#disarm();
    if (earliest === Infinity) return;
    this.#timerDueAt = earliest;
    // Node turns a delay above 2^31-1 ms into 1 ms: cap it, #fire re-arms for what is left.
    this.#timer = setTimeout(() => this.#fire(), Math.min(0x7fffffff, Math.max(0, earliest - performance.now())));
    if (!keepAlive) this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDueAt = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerDueAt = Infinity;
    const nowMs = performance.now();
    for (const [name, task] of [...this.#tasks]) {
      if (task.dueAt > nowMs) continue;
      // A task may reschedule itself under its own name: remove it only if it did not.
      if (this.#tasks.get(name) === task) this.#tasks.delete(name);
      try {
        task.run();
      } catch (error) {
        this.#report(name, error);
      }
    }
    this.#arm();
  }

  #report(name: string, error: unknown): void {
    const kind = name.replace(/#.*$/, '');
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    try {
      this.#onTaskError(kind, error);
    } catch {
      // Nothing left to tell.
    }
  }
}
