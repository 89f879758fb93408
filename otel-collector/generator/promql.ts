/**
 * The PromQL shapes the rules and panels share, written once. Every query groups by pool name.
 */
import { POOL } from './metric-names.js';

/** A PromQL duration for a number of seconds: `5m`, `10s`, `500ms`. */
export function duration(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  if (ms <= 0) throw new Error(`a duration must be positive, got ${seconds} s`);
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `metric{a="b", c=~"d"}`; `filters` are written as PromQL matchers (`label="value"`). */
export function selector(metric: string, ...filters: string[]): string {
  return filters.length === 0 ? metric : `${metric}{${filters.join(', ')}}`;
}

export function byPool(aggregation: 'sum' | 'max' | 'min', expr: string, ...extraLabels: string[]): string {
  return `${aggregation} by (${[POOL, ...extraLabels].join(', ')}) (${expr})`;
}

/**
 * How much a counter grew over the last `window`, exactly: the difference of two samples, not
 * `increase()`, which extrapolates to the window's edges and turns 2 events into "2.083". A series
 * younger than the window counts from 0 (the pool reports its counters at 0 when it opens, and a
 * series born with its first event starts at that event). A counter that went down (the process
 * restarted) counts what it holds now.
 */
export function exactIncrease(series: string, window: string): string {
  return `((${series} - (${series} offset ${window} or ${series} * 0)) >= 0 or ${series})`;
}

/** The sum over each pool of {@link exactIncrease}: a whole number of events. */
export function eventsInWindow(series: string, window: string): string {
  return byPool('sum', exactIncrease(series, window));
}

/** A quantile of a histogram per pool; NaN when the window holds no observation. */
export function quantile(q: number, bucket: string, window: string, ...extraLabels: string[]): string {
  return `histogram_quantile(${q}, ${byPool('sum', `rate(${bucket}[${window}])`, ...extraLabels, 'le')})`;
}

/**
 * Keeps `expr` only where the pool (and `extraLabels`) observed something in the window: a
 * histogram with no observation gives NaN, which panels would draw as a broken value; this gives
 * no sample instead, which the panel describes ("no probes ran").
 */
export function whereObserved(expr: string, count: string, window: string, ...extraLabels: string[]): string {
  const labels = [POOL, ...extraLabels].join(', ');
  return `${expr} and on (${labels}) (${byPool('sum', `rate(${count}[${window}])`, ...extraLabels)} > 0)`;
}
