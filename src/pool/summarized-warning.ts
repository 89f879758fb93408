import type { Logger } from '../logger.js';
import type { Housekeeper } from './housekeeper.js';

/** How often a warning that keeps coming is summarized. */
export const SUMMARY_EVERY_MS = 30_000;

/**
 * A warning that repeats with the traffic (acquire timeouts while the database is away, with
 * callers retrying): the first is logged as it is; the ones after it are counted and summarized
 * every 30 s while they go on, so the log grows with time, not with the number of callers. A
 * quiet period of 30 s ends the episode, and the next one is logged in full again. The counters
 * (`lifetime.timeouts`, the metrics) still count every one.
 */
export class SummarizedWarning {
  readonly #housekeeper: Housekeeper;
  readonly #task: string;
  readonly #logger: Logger;
  readonly #summary: (count: number, last: string) => string;
  #episode = false;
  #since = 0;
  #last = '';

  constructor(housekeeper: Housekeeper, task: string, logger: Logger, summary: (count: number, last: string) => string) {
    this.#housekeeper = housekeeper;
    this.#task = task;
    this.#logger = logger;
    this.#summary = summary;
  }

  report(message: string): void {
    if (this.#episode) {
      this.#since++;
      this.#last = message;
      return;
    }
    this.#episode = true;
    this.#logger.warn(message);
    this.#schedule();
  }

  #schedule(): void {
    this.#housekeeper.schedule(this.#task, SUMMARY_EVERY_MS, () => {
      if (this.#since === 0) {
        this.#episode = false;
        return;
      }
      this.#logger.warn(this.#summary(this.#since, this.#last));
      this.#since = 0;
      this.#schedule();
    });
  }
}
