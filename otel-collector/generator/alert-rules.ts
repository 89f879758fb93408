/**
 * The pool's alerts, in one place: the Prometheus rule file, the Grafana-managed copies and the
 * alert table of otel-collector/README.md are generated from this list.
 *
 * Each alert is a signal (a PromQL value per pool, the number its summary shows), a comparison
 * with a threshold, and a `for`. Two kinds:
 * - event alerts count events in a window exactly (whole numbers), fire on the first one and
 *   resolve a window after the last: timeouts, failed opens, replaced connections, locks, leaks;
 * - sustained alerts hold a state or a ratio: their `for` is longer than their window where the
 *   signal is a window statistic, so one burst (which stays in the window for exactly the window)
 *   never fires them.
 *
 * `scale` multiplies every duration (windows, `for`, the churn lifetime): the stack tests run the
 * same rules with the pool's durations scaled alike, so minutes pass in seconds.
 */
import { LABELS, METRICS, POOL } from './metric-names.js';
import { byPool, duration, eventsInWindow, quantile, selector } from './promql.js';

export interface AlertRule {
  readonly name: string;
  readonly severity: 'warning' | 'critical';
  /** PromQL with one value per pool: what the summary reports. */
  readonly signal: string;
  readonly op: '>' | '<';
  readonly threshold: number;
  /** Seconds the condition must hold (0: fires at once). */
  readonly forSeconds: number;
  /** The summary, given the template expression of the signal's value (`$value` in Prometheus). */
  readonly summary: (value: string) => string;
  /** What is wrong. */
  readonly meaning: string;
  /** What the user should do. */
  readonly runbook: string;
}

/** The thresholds, in one table (the README's alert table shows them). */
export const THRESHOLDS = {
  healthCheckSuccessRatio: 0.9,
  waitP99Seconds: 0.1,
  queryP99Seconds: 0.25,
  /** Churn: closed connections lived less than this on average... */
  churnLifetimeSeconds: 10,
  /** ...and at least this many closed in the window. */
  churnMinClosed: 10,
} as const;

const pool = `{{ $labels.${POOL} }}`;
const LOCK_ERRORS = `${LABELS.errorType}=~"SQLITE_BUSY.*|SQLITE_LOCKED.*"`;

export function poolAlertRules(scale = 1): AlertRule[] {
  const d = (seconds: number): string => duration(seconds * scale);
  const w5m = d(300);
  const w15m = d(900);
  const closedNotShutdown = `${LABELS.closeReason}!="shutdown"`;
  const probes = (result: string): string =>
    `rate(${selector(METRICS.healthCheckDuration.count, `${LABELS.result}=${result}`)}[${w5m}])`;
  return [
    {
      name: 'SqlitePoolOpenFailures',
      severity: 'warning',
      signal: eventsInWindow(METRICS.openFailures, w5m),
      op: '>',
      threshold: 0,
      forSeconds: 0,
      summary: (v) => `{{ ${v} }} attempt(s) to open a connection for pool ${pool} failed in the last 5 minutes`,
      meaning:
        'The database is unreachable: the pool cannot open connections (the file is missing, unreadable, on a full or failing disk, or locked at open).',
      runbook:
        'Check the database file at its path (it exists, is the file that was opened, permissions, free space); the error.type label and the sqlite_pool.connect spans in Jaeger give the SQLite error. Acquire timeouts that come with failed opens are an outage, not a pool too small.',
    },
    {
      name: 'SqlitePoolConnectionsReplaced',
      severity: 'warning',
      signal: eventsInWindow(selector(METRICS.closed, `${LABELS.closeReason}=~"unhealthy|error"`), w5m),
      op: '>',
      threshold: 0,
      forSeconds: 0,
      summary: (v) => `{{ ${v} }} connection(s) of pool ${pool} failed and were replaced in the last 5 minutes`,
      meaning:
        'Connections broke or kept failing and the pool closed and replaced them: close reason error (a probe found the handle closed, the file deleted or replaced, or corruption; the worker process stopped) or unhealthy (more failed probes in a row than maxConsecutiveFailures).',
      runbook:
        'Look at the close reasons and the health-check failures by error type on the dashboard; check that the database file is still the one that was opened (not deleted, moved or restored over) and not corrupt (PRAGMA integrity_check), the disk, and code that closes a lease\'s raw handle. The pool logs each replacement at warn level.',
    },
    {
      name: 'SqlitePoolUnhealthyConnections',
      severity: 'warning',
      signal: byPool('max', selector(METRICS.health, `${LABELS.status}="unhealthy"`)),
      op: '>',
      threshold: 0,
      forSeconds: 120 * scale,
      summary: (v) => `Pool ${pool} has kept {{ ${v} }} broken connection(s) for 2 minutes`,
      meaning:
        'A broken connection stays in the pool unreplaced: the pool replaces a broken connection when a borrow, a release or a monitoring cycle meets it, so one that lasts 2 minutes (four default monitoring intervals) is one nothing looks at: monitoring is off or slow, or a lease that hit a connection-level error is still held.',
      runbook:
        'Check that monitoring runs (DB_HEALTH_CHECK_ENABLED, intervalMs / DB_HEALTH_CHECK_INTERVAL); find leases held after an error (used connections on the dashboard, leaked leases) and code that closes the raw better-sqlite3 handle.',
    },
    {
      name: 'SqlitePoolHealthyBelowMinimum',
      severity: 'critical',
      // Working: open and not broken. Stale and expired connections work (they are retired and
      // replaced in due course), and so does a connection leased for long (it reads as stale).
      signal: `${byPool('max', METRICS.idleMin)} - ${byPool('min', `sum without (${LABELS.status}) (${selector(METRICS.health, `${LABELS.status}!="unhealthy"`)})`)}`,
      op: '>',
      threshold: 0,
      forSeconds: 120 * scale,
      summary: (v) => `Pool ${pool} is {{ ${v} }} working connection(s) short of its minimum`,
      meaning:
        'The pool has had fewer working connections (open and not broken) than minHealthyConnections for 2 minutes: connections broke and could not be replaced, or the pool cannot open any.',
      runbook:
        'If SqlitePoolOpenFailures fires too, the database cannot be opened: fix the file, disk or permissions. Otherwise look for connections that are broken but not replaced (SqlitePoolUnhealthyConnections).',
    },
    {
      name: 'SqlitePoolAcquireTimeouts',
      severity: 'critical',
      signal: eventsInWindow(METRICS.timeouts, w5m),
      op: '>',
      threshold: 0,
      forSeconds: 0,
      summary: (v) => `{{ ${v} }} caller(s) of pool ${pool} gave up waiting for a connection in the last 5 minutes`,
      meaning:
        'Callers got an acquire-timeout error: no connection became free within acquireTimeoutMs. Either the pool is exhausted (every connection leased) or it cannot open connections.',
      runbook:
        'Tell the two apart on the dashboard: failed opens beside the timeouts mean the database is unreachable (see SqlitePoolOpenFailures); no failed opens and every connection used mean the pool is exhausted: look for leaked or long-held leases, slow statements, then the pool size (DB_POOL_SIZE).',
    },
    {
      name: 'SqlitePoolPendingAcquires',
      severity: 'warning',
      signal: byPool('max', METRICS.pending),
      op: '>',
      threshold: 0,
      forSeconds: 300 * scale,
      summary: (v) => `Callers have waited for a connection of pool ${pool} for 5 minutes without pause ({{ ${v} }} waiting now)`,
      meaning: 'There has been a queue for connections at every evaluation for 5 minutes: the pool is saturated or cannot open connections.',
      runbook:
        'Check leased (used) connections against the maximum, how long leases are held (use time, leaked leases), slow statements, failed opens; then the pool size (DB_POOL_SIZE).',
    },
    {
      name: 'SqlitePoolWaitTimeP99High',
      severity: 'warning',
      signal: quantile(0.99, METRICS.waitTime.bucket, w5m),
      op: '>',
      threshold: THRESHOLDS.waitP99Seconds,
      forSeconds: 600 * scale,
      summary: (v) => `p99 wait for a connection of pool ${pool} is {{ ${v} | humanizeDuration }} (above 100ms for 10 minutes)`,
      meaning: 'Callers that got a connection waited long for it, for 10 minutes (longer than the 5-minute window: a single burst of waits does not fire it).',
      runbook:
        'Check pending requests and used connections against the maximum, use time (leases held long), slow statements, and slow probes at borrow (health-check duration, timeoutMs).',
    },
    {
      name: 'SqlitePoolQueryTimeP99High',
      severity: 'warning',
      signal: quantile(0.99, METRICS.operationDuration.bucket, w5m),
      op: '>',
      threshold: THRESHOLDS.queryP99Seconds,
      forSeconds: 600 * scale,
      summary: (v) => `p99 statement time of pool ${pool} is {{ ${v} | humanizeDuration }} (above 250ms for 10 minutes)`,
      meaning: 'SQLite statements have been slow for 10 minutes; on SQLite they normally take well under a millisecond.',
      runbook:
        'Find the slow operations on the dashboard and their spans in Jaeger (db.query.text); check lock waits (SqlitePoolDatabaseLocked, busy timeout), missing indexes, the disk holding the file.',
    },
    {
      name: 'SqlitePoolDatabaseLocked',
      severity: 'warning',
      signal: eventsInWindow(selector(METRICS.operationDuration.count, LOCK_ERRORS), w5m),
      op: '>',
      threshold: 0,
      forSeconds: 0,
      summary: (v) => `{{ ${v} }} statement(s) of pool ${pool} failed on a locked database in the last 5 minutes`,
      meaning:
        'Statements failed with SQLITE_BUSY or SQLITE_LOCKED: another connection or process held the database lock longer than the busy timeout. The connections are fine (probes that only read still pass); writes fail.',
      runbook:
        'Find who holds the lock: another process (a backup, a migration, an sqlite3 shell), a long write transaction (use time, spans in Jaeger), a WAL checkpoint; raise busyTimeoutMs only if the waits are legitimate.',
    },
    {
      name: 'SqlitePoolLeakedLeases',
      severity: 'warning',
      signal: eventsInWindow(METRICS.leaks, w15m),
      op: '>',
      threshold: 0,
      forSeconds: 0,
      summary: (v) => `{{ ${v} }} lease(s) of pool ${pool} were held longer than the leak threshold in the last 15 minutes`,
      meaning:
        'Code took a connection and kept it longer than leakDetectionThresholdMs: a lease that is never released keeps its connection from every other caller, and enough of them exhaust the pool.',
      runbook:
        'The pool logs where each such lease was acquired (warn level, with the stack): release every lease on every path (withConnection(), transaction(), await using), and close the pool on shutdown.',
    },
    {
      name: 'SqlitePoolHealthCheckSuccessRateLow',
      severity: 'warning',
      // A pool whose probes all fail has no success series: it counts as 0 %, not as no data.
      signal:
        `(${byPool('sum', probes('"success"'))} or 0 * ${byPool('sum', probes('"failure"'))})` +
        ` / ${byPool('sum', probes('~"success|failure"'))}`,
      op: '<',
      threshold: THRESHOLDS.healthCheckSuccessRatio,
      forSeconds: 600 * scale,
      summary: (v) => `Health-check success rate of pool ${pool} is {{ ${v} | humanizePercentage }} (below 90% for 10 minutes)`,
      meaning:
        'More than one probe in ten has failed on open connections, for 10 minutes (longer than the 5-minute window, so the failed probes of one incident do not fire it; a pool without connections runs no probes: see SqlitePoolOpenFailures).',
      runbook:
        'Failures by error type are on the dashboard: SQLITE_BUSY means locks held past the probe (long write transactions, other processes); timeouts mean slow probes (raise timeoutMs / DB_HEALTH_CHECK_TIMEOUT, e.g. to 5 s); review the health-check query.',
    },
    {
      name: 'SqlitePoolConnectionChurn',
      severity: 'warning',
      signal:
        `${byPool('sum', `increase(${selector(METRICS.lifetime.sum, closedNotShutdown)}[${w15m}])`)}` +
        ` / ${byPool('sum', `increase(${selector(METRICS.lifetime.count, closedNotShutdown)}[${w15m}])`)}` +
        ` and on (${POOL}) ${eventsInWindow(selector(METRICS.closed, closedNotShutdown), w15m)} >= ${THRESHOLDS.churnMinClosed}`,
      op: '<',
      threshold: THRESHOLDS.churnLifetimeSeconds * scale,
      forSeconds: 600 * scale,
      summary: (v) => `Connections of pool ${pool} live only {{ ${v} | humanizeDuration }} on average (replaced too often)`,
      meaning:
        'The pool keeps opening connections that live only seconds: over 15 minutes at least 10 connections closed (other than at shutdown) after less than 10 s on average, for 10 minutes. Each one costs an open, a probe and a cold statement cache. Retirement by maxUsage at the defaults (1000 statements) lives far longer: about 60-90 s at 20 requests per second.',
      runbook:
        'See the close reasons on the dashboard: unhealthy or error means failing connections (SqlitePoolConnectionsReplaced, health-check failures, database connectivity); max_usage means maxUsage (DB_MAX_CONNECTION_USAGE) is low for the load; idle means maxIdleTimeMs shorter than the gaps in the load; max_age means maxAgeMs (DB_MAX_CONNECTION_AGE).',
    },
  ];
}

/** The Prometheus expression of a rule: its signal compared with its threshold. */
export function alertExpression(rule: AlertRule): string {
  return `(${rule.signal}) ${rule.op} ${rule.threshold}`;
}
