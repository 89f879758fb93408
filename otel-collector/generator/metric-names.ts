/**
 * Prometheus names of the package's metrics, derived from METRIC_DEFINITIONS with prometheusName()
 * (the names the app's own /metrics endpoint serves, and the collector path as configured here).
 * Rules and panels name metrics only through these helpers, so they cannot name a metric the
 * package does not emit, and a renamed metric breaks the generator instead of a dashboard.
 */
import { METRIC_DEFINITIONS, prometheusName, type MetricName } from '../../src/telemetry/metric-definitions.js';

type Definition = (typeof METRIC_DEFINITIONS)[number];
type NameOfKind<K extends Definition['kind']> = Extract<Definition, { kind: K }>['name'];

function definition(name: MetricName): Definition {
  const found = METRIC_DEFINITIONS.find((d) => d.name === name);
  if (found === undefined) throw new Error(`no metric ${name} in METRIC_DEFINITIONS`);
  return found;
}

/** The series name of a counter, gauge or up-down counter (counters end in `_total`). */
export function seriesOf(name: Exclude<MetricName, NameOfKind<'histogram'>>): string {
  return prometheusName(definition(name));
}

/** The three series of a histogram. */
export function histogramOf(name: NameOfKind<'histogram'>): { bucket: string; count: string; sum: string } {
  const base = prometheusName(definition(name));
  return { bucket: `${base}_bucket`, count: `${base}_count`, sum: `${base}_sum` };
}

/** The Prometheus label an OpenTelemetry attribute becomes. */
export function labelOf(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_');
}

/** Every rule and panel groups by this label (the attribute `db.client.connection.pool.name`). */
export const POOL = labelOf('db.client.connection.pool.name');

export const LABELS = {
  state: labelOf('db.client.connection.state'),
  status: labelOf('sqlite_pool.connection.status'),
  result: labelOf('sqlite_pool.health_check.result'),
  stat: labelOf('sqlite_pool.stat'),
  closeReason: labelOf('sqlite_pool.close.reason'),
  operation: labelOf('db.operation.name'),
  errorType: labelOf('error.type'),
} as const;

export const METRICS = {
  operationDuration: histogramOf('db.client.operation.duration'),
  connectionCount: seriesOf('db.client.connection.count'),
  connectionMax: seriesOf('db.client.connection.max'),
  idleMax: seriesOf('db.client.connection.idle.max'),
  idleMin: seriesOf('db.client.connection.idle.min'),
  pending: seriesOf('db.client.connection.pending_requests'),
  timeouts: seriesOf('db.client.connection.timeouts'),
  createTime: histogramOf('db.client.connection.create_time'),
  waitTime: histogramOf('db.client.connection.wait_time'),
  useTime: histogramOf('db.client.connection.use_time'),
  health: seriesOf('sqlite_pool.connection.health'),
  healthCheckDuration: histogramOf('sqlite_pool.health_check.duration'),
  age: seriesOf('sqlite_pool.connection.age'),
  usage: seriesOf('sqlite_pool.connection.usage'),
  lifetime: histogramOf('sqlite_pool.connection.lifetime'),
  closed: seriesOf('sqlite_pool.connection.closed'),
  leaks: seriesOf('sqlite_pool.connection.leaks'),
  openFailures: seriesOf('sqlite_pool.connection.open_failures'),
} as const;
