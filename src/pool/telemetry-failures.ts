import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LifetimeCounters } from './statistics.js';

/**
 * Where a pool hears that its telemetry failed (a span processor or exporter that threw, a
 * `poolName` function, a hook): the pool already went on without that report. Each failure is
 * counted (`lifetime.telemetryFailures`); the first of each kind is logged, since a broken
 * exporter fails on every statement and a warning per statement would bury the log.
 */
export class TelemetryFailures {
  readonly #lifetime: LifetimeCounters;
  readonly #logger: Logger;
  readonly #reported = new Set<string>();

  constructor(lifetime: LifetimeCounters, logger: Logger) {
    this.#lifetime = lifetime;
    this.#logger = logger;
  }

  report(event: string, error: unknown): void {
    this.#lifetime.telemetryFailures++;
    if (this.#reported.has(event)) return;
    this.#reported.add(event);
    this.#logger.warn(
      `Telemetry failed in ${event} (${errorMessage(error)}); the pool went on without that report. Later failures in ${event} are counted in lifetime.telemetryFailures, not logged`,
      error,
    );
  }
}
