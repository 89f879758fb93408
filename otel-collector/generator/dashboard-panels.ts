/**
 * What the pool dashboard shows, as data: rows of panels, each with its queries and, for a query
 * that may rightly return nothing, when and what that means. dashboard.ts turns this into Grafana
 * panels; the stack tests evaluate every query against a real Prometheus and accept an empty
 * result only when `empty.when` says nothing was there to show (it is 0 or empty too).
 *
 * Rules the queries follow, so that no panel shows NaN or goes blank where a value belongs:
 * - gauges and counters always give a number (the pool reports its counters at 0 when it opens,
 *   breakdowns by a label fall back to a 0 line while no labelled series exists);
 * - quantiles and averages of histograms are kept only where the window holds observations
 *   (never NaN); a window without any is a gap, and the panel's description says what it means;
 * - per-connection statistics (age, usage) are kept only while the pool has connections: an
 *   empty pool shows "no connections", not an age of 0;
 * - counts over the dashboard's range are exact whole numbers (no extrapolated fractions).
 */
import { LABELS, METRICS, POOL } from './metric-names.js';
import { byPool, exactIncrease, quantile, selector, whereObserved } from './promql.js';

export const POOL_FILTER = `${POOL}=~"$pool"`;
const RATE = '$__rate_interval';
const RANGE = '$__range';

export interface PanelQuery {
  readonly refId: string;
  readonly expr: string;
  readonly legend: string;
  /** Set when no sample is a right answer: `when` is 0 or empty exactly then. */
  readonly empty?: { readonly when: string; readonly means: string };
}

export interface PanelSpec {
  readonly title: string;
  readonly kind: 'stat' | 'timeseries';
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly PanelQuery[];
  /** Stat panels: the value from which the background turns `color`. */
  readonly alarmFrom?: { readonly value: number; readonly color: 'orange' | 'red' };
  /** Below this value a stat is red (e.g. a success ratio). */
  readonly okFrom?: number;
  readonly noValue?: string;
  readonly stacked?: boolean;
  readonly max?: number;
}

export interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

const f = (metric: string, ...filters: string[]): string => selector(metric, POOL_FILTER, ...filters);
const legend = (...labels: string[]): string => [POOL, ...labels].map((l) => `{{${l}}}`).join(' ');

/** A 0 line per pool (from a gauge every open pool reports) for breakdowns with nothing to break down yet. */
const zeroPerPool = `0 * ${byPool('max', f(METRICS.connectionMax))}`;

/** "Nothing was observed in the window": 0 also while the histogram has no series yet. */
function observed(count: string, window: string, means: string): PanelQuery['empty'] {
  return { when: `${byPool('sum', `rate(${f(count)}[${window}])`)} or on (${POOL}) ${zeroPerPool}`, means };
}

const noConnections = { when: byPool('sum', f(METRICS.connectionCount)), means: 'no connections: the pool is empty' };

function quantiles(qs: readonly number[], h: { bucket: string; count: string }, means: string): PanelQuery[] {
  return qs.map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    expr: whereObserved(quantile(q, f(h.bucket), RATE), f(h.count), RATE),
    legend: `${legend()} p${Math.round(q * 100)}`,
    empty: observed(h.count, RATE, means),
  }));
}

const probeCount = (result: string, window: string): string =>
  `rate(${f(METRICS.healthCheckDuration.count, `${LABELS.result}=${result}`)}[${window}])`;

/** Passed probes over all probes, 0 % when every probe failed, nothing when none ran. */
function successRatio(window: string): string {
  const ratio =
    `(${byPool('sum', probeCount('"success"', window))} or 0 * ${byPool('sum', probeCount('"failure"', window))})` +
    ` / ${byPool('sum', probeCount('~"success|failure"', window))}`;
  return whereObserved(`(${ratio})`, f(METRICS.healthCheckDuration.count), window);
}

const countOverRange = (metric: string): string => byPool('sum', exactIncrease(f(metric), RANGE));

export const DASHBOARD_ROWS: readonly RowSpec[] = [
  {
    title: 'Overview',
    panels: [
      { title: 'Open connections', kind: 'stat', unit: 'short', description: 'Connections open now, idle and used.', queries: [{ refId: 'A', expr: byPool('sum', f(METRICS.connectionCount)), legend: legend() }] },
      { title: 'Healthy connections', kind: 'stat', unit: 'short', description: 'Open connections whose status is healthy. Compare with the minimum (Connections by health status); SqlitePoolHealthyBelowMinimum fires below it.', queries: [{ refId: 'A', expr: byPool('sum', f(METRICS.health, `${LABELS.status}="healthy"`)), legend: legend() }], okFrom: 1 },
      { title: 'Pending requests', kind: 'stat', unit: 'short', description: 'Callers waiting for a connection now.', queries: [{ refId: 'A', expr: byPool('sum', f(METRICS.pending)), legend: legend() }], alarmFrom: { value: 1, color: 'orange' } },
      { title: 'Unhealthy connections', kind: 'stat', unit: 'short', description: 'Broken connections not replaced yet (the pool replaces one when a borrow, a release or a monitoring cycle meets it).', queries: [{ refId: 'A', expr: byPool('sum', f(METRICS.health, `${LABELS.status}="unhealthy"`)), legend: legend() }], alarmFrom: { value: 1, color: 'red' } },
      { title: 'Health-check success rate (5m)', kind: 'stat', unit: 'percentunit', description: 'Passed probes over all probes in the last 5 minutes. "no probes": none ran (a pool without connections has nothing to probe; see failed opens).', queries: [{ refId: 'A', expr: successRatio('5m'), legend: legend(), empty: observed(METRICS.healthCheckDuration.count, '5m', 'no probes ran in 5 minutes') }], okFrom: 0.9, noValue: 'no probes' },
      { title: 'Failed opens (range)', kind: 'stat', unit: 'short', description: 'Attempts to open a connection that failed in the time range: the database is unreachable (file missing, unreadable, disk). With acquire timeouts beside it, the outage is the database, not the pool size.', queries: [{ refId: 'A', expr: countOverRange(METRICS.openFailures), legend: legend() }], alarmFrom: { value: 1, color: 'red' } },
      { title: 'Acquire timeouts (range)', kind: 'stat', unit: 'short', description: 'Callers that gave up waiting for a connection in the time range. Without failed opens beside it, the pool is exhausted (leases held, too small a pool).', queries: [{ refId: 'A', expr: countOverRange(METRICS.timeouts), legend: legend() }], alarmFrom: { value: 1, color: 'red' } },
      { title: 'Leaked leases (range)', kind: 'stat', unit: 'short', description: 'Leases held longer than leakDetectionThresholdMs in the time range.', queries: [{ refId: 'A', expr: countOverRange(METRICS.leaks), legend: legend() }], alarmFrom: { value: 1, color: 'orange' } },
    ],
  },
  {
    title: 'Connections',
    panels: [
      {
        title: 'Connections by state',
        kind: 'timeseries',
        unit: 'short',
        description: 'Idle and used connections, against the most the pool opens and the minimum it keeps healthy.',
        queries: [
          { refId: 'A', expr: byPool('sum', f(METRICS.connectionCount), LABELS.state), legend: legend(LABELS.state) },
          { refId: 'B', expr: byPool('max', f(METRICS.connectionMax)), legend: `${legend()} max` },
          { refId: 'C', expr: byPool('max', f(METRICS.idleMax)), legend: `${legend()} idle max` },
          { refId: 'D', expr: byPool('max', f(METRICS.idleMin)), legend: `${legend()} min healthy` },
        ],
      },
      {
        title: 'Pending requests',
        kind: 'timeseries',
        unit: 'short',
        description: 'Callers waiting for a connection. A queue that never empties is SqlitePoolPendingAcquires.',
        queries: [{ refId: 'A', expr: byPool('sum', f(METRICS.pending)), legend: legend() }],
      },
    ],
  },
  {
    title: 'Database unreachable or pool exhausted',
    panels: [
      {
        title: 'Failed opens by error type',
        kind: 'timeseries',
        unit: 'ops',
        description: 'Failed attempts to open a connection, per second: the database cannot be opened (error.type: the SQLite error, e.g. SQLITE_CANTOPEN for a missing file).',
        queries: [{ refId: 'A', expr: byPool('sum', `rate(${f(METRICS.openFailures)}[${RATE}])`, LABELS.errorType), legend: `${legend(LABELS.errorType)} failed opens` }],
      },
      {
        title: 'Acquire timeouts',
        kind: 'timeseries',
        unit: 'ops',
        description: 'Callers that gave up waiting for a connection, per second. With failed opens: the database is unreachable. Without: the pool is exhausted.',
        queries: [{ refId: 'A', expr: byPool('sum', `rate(${f(METRICS.timeouts)}[${RATE}])`), legend: `${legend()} timeouts` }],
      },
      {
        title: 'Failed statements by error type',
        kind: 'timeseries',
        unit: 'ops',
        description: 'Statements that failed, per second, by SQLite error (SQLITE_BUSY: the database was locked past the busy timeout). A 0 line while none failed.',
        queries: [{ refId: 'A', expr: `${byPool('sum', `rate(${f(METRICS.operationDuration.count, `${LABELS.errorType}!=""`)}[${RATE}])`, LABELS.errorType)} or on (${POOL}) ${zeroPerPool}`, legend: legend(LABELS.errorType) }],
      },
    ],
  },
  {
    title: 'Health',
    panels: [
      {
        title: 'Connections by health status',
        kind: 'timeseries',
        unit: 'short',
        description: 'Open connections by status (healthy, unhealthy, stale, expired), against the minimum kept healthy.',
        queries: [
          { refId: 'A', expr: byPool('sum', f(METRICS.health), LABELS.status), legend: legend(LABELS.status) },
          { refId: 'B', expr: byPool('max', f(METRICS.idleMin)), legend: `${legend()} min healthy` },
        ],
      },
      {
        title: 'Health-check success rate',
        kind: 'timeseries',
        unit: 'percentunit',
        max: 1,
        description: 'Passed probes over all probes. A gap: no probe ran (a pool without connections has nothing to probe; see failed opens).',
        queries: [{ refId: 'A', expr: successRatio(RATE), legend: legend(), empty: observed(METRICS.healthCheckDuration.count, RATE, 'no probe ran') }],
      },
      {
        title: 'Health-check failures by error type',
        kind: 'timeseries',
        unit: 'ops',
        description: 'Failed probes per second by error type (SQLITE_POOL_FILE_MISSING: the file was deleted or replaced). A 0 line while none failed.',
        queries: [{ refId: 'A', expr: `${byPool('sum', `rate(${f(METRICS.healthCheckDuration.count, `${LABELS.result}="failure"`)}[${RATE}])`, LABELS.errorType)} or on (${POOL}) ${zeroPerPool}`, legend: legend(LABELS.errorType) }],
      },
      {
        title: 'Health-check duration',
        kind: 'timeseries',
        unit: 's',
        description: 'Probe duration percentiles. A gap: no probe ran.',
        queries: quantiles([0.5, 0.99], METRICS.healthCheckDuration, 'no probe ran'),
      },
    ],
  },
  {
    title: 'Lifecycle and churn',
    panels: [
      {
        title: 'Connection age',
        kind: 'timeseries',
        unit: 's',
        description: 'Age of the open connections (max and average). A gap: the pool had no connection.',
        queries: [{ refId: 'A', expr: `${byPool('max', f(METRICS.age), LABELS.stat)} and on (${POOL}) (${byPool('sum', f(METRICS.connectionCount))} > 0)`, legend: legend(LABELS.stat), empty: noConnections }],
        noValue: 'no connections',
      },
      {
        title: 'Connection usage',
        kind: 'timeseries',
        unit: 'short',
        description: 'Statements run per open connection (max and average). A gap: the pool had no connection.',
        queries: [{ refId: 'A', expr: `${byPool('max', f(METRICS.usage), LABELS.stat)} and on (${POOL}) (${byPool('sum', f(METRICS.connectionCount))} > 0)`, legend: legend(LABELS.stat), empty: noConnections }],
        noValue: 'no connections',
      },
      {
        title: 'Churn: connections closed by reason',
        kind: 'timeseries',
        unit: 'ops',
        stacked: true,
        description: 'Connections closed per second by reason: max_age, max_usage and idle are planned retirements; unhealthy and error are failures; shutdown is the pool closing.',
        queries: [{ refId: 'A', expr: byPool('sum', `rate(${f(METRICS.closed)}[${RATE}])`, LABELS.closeReason), legend: legend(LABELS.closeReason) }],
      },
      {
        title: 'Average lifetime of closed connections by close reason',
        kind: 'timeseries',
        unit: 's',
        description: 'How long the connections that closed had lived, on average, by close reason (SqlitePoolConnectionChurn watches this). A gap: no connection closed.',
        queries: [
          {
            refId: 'A',
            expr: whereObserved(
              `${byPool('sum', `rate(${f(METRICS.lifetime.sum)}[${RATE}])`, LABELS.closeReason)} / ${byPool('sum', `rate(${f(METRICS.lifetime.count)}[${RATE}])`, LABELS.closeReason)}`,
              f(METRICS.lifetime.count),
              RATE,
              LABELS.closeReason,
            ),
            legend: legend(LABELS.closeReason),
            empty: observed(METRICS.lifetime.count, RATE, 'no connection closed'),
          },
        ],
        noValue: 'no connection closed',
      },
    ],
  },
  {
    title: 'Acquire and queries',
    panels: [
      { title: 'Wait time for a connection', kind: 'timeseries', unit: 's', description: 'How long callers that got a connection waited for it. A gap: no caller got one (timeouts are on their own panel).', queries: quantiles([0.5, 0.95, 0.99], METRICS.waitTime, 'no caller got a connection') },
      { title: 'Query time', kind: 'timeseries', unit: 's', description: 'Statement duration percentiles. A gap: no statement ran.', queries: quantiles([0.5, 0.95, 0.99], METRICS.operationDuration, 'no statement ran') },
      {
        title: 'Query time p99 by operation',
        kind: 'timeseries',
        unit: 's',
        description: 'p99 statement duration by operation (SELECT, INSERT, ...). A gap: the operation did not run.',
        queries: [
          {
            refId: 'A',
            expr: whereObserved(quantile(0.99, f(METRICS.operationDuration.bucket), RATE, LABELS.operation), f(METRICS.operationDuration.count), RATE, LABELS.operation),
            legend: legend(LABELS.operation),
            empty: observed(METRICS.operationDuration.count, RATE, 'no statement ran'),
          },
        ],
      },
      {
        title: 'Create and use time',
        kind: 'timeseries',
        unit: 's',
        description: 'p99 time to open and validate a new connection, and p99 time a lease was held. A gap: no connection opened, or no lease released.',
        queries: [
          { refId: 'A', expr: whereObserved(quantile(0.99, f(METRICS.createTime.bucket), RATE), f(METRICS.createTime.count), RATE), legend: `${legend()} create p99`, empty: observed(METRICS.createTime.count, RATE, 'no connection opened') },
          { refId: 'B', expr: whereObserved(quantile(0.99, f(METRICS.useTime.bucket), RATE), f(METRICS.useTime.count), RATE), legend: `${legend()} use p99`, empty: observed(METRICS.useTime.count, RATE, 'no lease released') },
        ],
      },
      { title: 'Leaked leases', kind: 'timeseries', unit: 'ops', description: 'Leases reported as held past leakDetectionThresholdMs, per second.', queries: [{ refId: 'A', expr: byPool('sum', `rate(${f(METRICS.leaks)}[${RATE}])`), legend: legend() }] },
    ],
  },
];
