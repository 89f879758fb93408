/**
 * Scaled time for the stack tests: every duration of the pool's defaults, of Prometheus's scrape
 * and evaluation and of the alert rules (windows, `for`) is multiplied by SCALE, and so is
 * maxUsage (statements per connection at a load that is not scaled), so minutes pass in seconds
 * and every ratio between them stays what it is at the defaults.
 *
 * What is not scaled, because it is a latency budget rather than a period: the probe timeout, the
 * acquire timeout (the demo's 2 s), the busy timeout, the leak threshold (2 s here), the load (20
 * requests per second) and the machine itself. Those become SLACK_SECONDS in the timing checks.
 */
import { HEALTH_CHECK_DEFAULTS } from '../../src/index.js';

export const SCALE = 1 / 40;

/** Shipped Prometheus settings (otel-collector/prometheus/prometheus.yml). */
export const SHIPPED_SCRAPE_SECONDS = 15;
export const SHIPPED_EVALUATION_SECONDS = 15;

export const SCRAPE_SECONDS = SHIPPED_SCRAPE_SECONDS * SCALE;
export const EVALUATION_SECONDS = SHIPPED_EVALUATION_SECONDS * SCALE;

/** Added to every scaled timing bound: the acquire timeout (2 s), the leak threshold (2 s), noise. */
export const SLACK_SECONDS = 4;

/** The leak threshold the demos run with (unscaled: a lease normally lasts well under 10 ms). */
export const LEAK_THRESHOLD_SECONDS = 2;

/** Grafana's $__rate_interval for the scaled scrape interval (4 scrapes, as Grafana computes it). */
export const RATE_INTERVAL = `${Math.round(4 * SCRAPE_SECONDS * 1000)}ms`;
/** The dashboard's default range (1 hour), scaled. */
export const DASHBOARD_RANGE = `${Math.round(3600 * SCALE)}s`;

/** The demo's environment for the pool's defaults in scaled time. */
export function scaledPoolEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const d = HEALTH_CHECK_DEFAULTS;
  const s = (ms: number): string => String((ms / 1000) * SCALE);
  return {
    DB_HEALTH_CHECK_INTERVAL: s(d.intervalMs),
    DB_MAX_CONNECTION_AGE: s(d.maxAgeMs),
    DB_MAX_IDLE_TIME: s(d.maxIdleTimeMs),
    DB_HEALTH_CHECK_CACHE_DURATION: s(d.cacheDurationMs),
    DB_MAX_CONNECTION_USAGE: String(Math.round(d.maxUsage * SCALE)),
    DEMO_LEAK_THRESHOLD: String(LEAK_THRESHOLD_SECONDS),
    ...overrides,
  };
}

/** Scales the literal durations of a PromQL text (`[5m]`, `offset 5m`), as the rule generator does. */
export function scaleDurations(expr: string): string {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return expr.replace(/(\[|offset )(\d+)(ms|s|m|h)\b/g, (_, before: string, n: string, u: string) => {
    return `${before}${Math.round(Number(n) * unit[u]! * SCALE * 1000)}ms`;
  });
}

/** A real-time duration of the README's tables (`90s`, `3m`) in seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(text.trim());
  if (m === null) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}
