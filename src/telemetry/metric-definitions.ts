/**
 * Every metric the pool publishes, in one table. The instrumentation builds its instruments
 * from these entries, and the stack tests derive the Prometheus names from them, so a rule or a
 * panel can never name a metric the package does not emit.
 */

/** How a metric is recorded. Observable instruments are read from pool state at collection time. */
export type InstrumentKind =
  | 'histogram'
  | 'counter'
  | 'observableUpDownCounter'
  | 'observableGauge';

export interface MetricDefinition {
  readonly name: string;
  readonly kind: InstrumentKind;
  readonly unit: string;
  readonly description: string;
  /** Attribute keys besides `db.client.connection.pool.name`, which every pool metric carries. */
  readonly attributes: readonly string[];
  /** Explicit bucket advice for histograms, in the metric's unit. */
  readonly buckets?: readonly number[];
}

/**
 * SQLite statements take microseconds; the SDK's default buckets start at 5 (seconds, for a
 * seconds histogram). These start at 10 µs and reach the semantic-convention buckets above 1 ms.
 */
export const MICROSECOND_BUCKETS_SECONDS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
  0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Connection lifetimes run from milliseconds (a failed probe) to the maximum age (an hour). */
export const LIFETIME_BUCKETS_SECONDS: readonly number[] = [
  0.01, 0.1, 1, 10, 30, 60, 300, 600, 1800, 3600, 7200,
];

export const METRIC_DEFINITIONS = [
  {
    name: 'db.client.operation.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of SQLite statements executed on pooled connections.',
    attributes: ['db.system.name', 'db.namespace', 'db.operation.name', 'db.query.summary', 'db.client.connection.pool.name', 'error.type', 'db.response.status_code'],
    buckets: MICROSECOND_BUCKETS_SECONDS,
  },
  {
    name: 'db.client.connection.count',
    kind: 'observableUpDownCounter',
    unit: '{connection}',
    description: 'Open connections by state (idle or used).',
    attributes: ['db.client.connection.state'],
  },
  {
    name: 'db.client.connection.max',
    kind: 'observableUpDownCounter',
    unit: '{connection}',
    description: 'The most open connections the pool allows.',
    attributes: [],
  },
  {
    name: 'db.client.connection.idle.max',
    kind: 'observableUpDownCounter',
    unit: '{connection}',
    description: 'The most idle connections the pool keeps.',
    attributes: [],
  },
  {
    name: 'db.client.connection.idle.min',
    kind: 'observableUpDownCounter',
    unit: '{connection}',
    description: 'The fewest healthy connections the pool keeps open (minHealthyConnections).',
    attributes: [],
  },
  {
    name: 'db.client.connection.pending_requests',
    kind: 'observableUpDownCounter',
    unit: '{request}',
    description: 'Callers waiting for a connection.',
    attributes: [],
  },
  {
    name: 'db.client.connection.timeouts',
    kind: 'counter',
    unit: '{timeout}',
    description: 'Acquires that gave up because no connection became available in time.',
    attributes: [],
  },
  {
    name: 'db.client.connection.create_time',
    kind: 'histogram',
    unit: 's',
    description: 'Time to open and validate a new connection.',
    attributes: [],
    buckets: MICROSECOND_BUCKETS_SECONDS,
  },
  {
    name: 'db.client.connection.wait_time',
    kind: 'histogram',
    unit: 's',
    description: 'Time a caller waited for a connection.',
    attributes: [],
    buckets: MICROSECOND_BUCKETS_SECONDS,
  },
  {
    name: 'db.client.connection.use_time',
    kind: 'histogram',
    unit: 's',
    description: 'Time between acquiring a connection and releasing it.',
    attributes: [],
    buckets: MICROSECOND_BUCKETS_SECONDS,
  },
  {
    name: 'sqlite_pool.connection.health',
    kind: 'observableUpDownCounter',
    unit: '{connection}',
    description: 'Open connections by health status; every status is reported, zeros included.',
    attributes: ['sqlite_pool.connection.status'],
  },
  {
    name: 'sqlite_pool.health_check.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of health probes, by result.',
    attributes: ['sqlite_pool.health_check.result', 'error.type'],
    buckets: MICROSECOND_BUCKETS_SECONDS,
  },
  {
    name: 'sqlite_pool.connection.age',
    kind: 'observableGauge',
    unit: 's',
    description: 'Age of open connections (max and average).',
    attributes: ['sqlite_pool.stat'],
  },
  {
    name: 'sqlite_pool.connection.usage',
    kind: 'observableGauge',
    unit: '{operation}',
    description: 'Statements executed per open connection (max and average).',
    attributes: ['sqlite_pool.stat'],
  },
  {
    name: 'sqlite_pool.connection.lifetime',
    kind: 'histogram',
    unit: 's',
    description: 'How long connections lived, recorded when they close, by close reason.',
    attributes: ['sqlite_pool.close.reason'],
    buckets: LIFETIME_BUCKETS_SECONDS,
  },
  {
    name: 'sqlite_pool.connection.closed',
    kind: 'counter',
    unit: '{connection}',
    description: 'Connections closed, by reason.',
    attributes: ['sqlite_pool.close.reason'],
  },
  {
    name: 'sqlite_pool.connection.leaks',
    kind: 'counter',
    unit: '{lease}',
    description: 'Leases held longer than leakDetectionThresholdMs.',
    attributes: [],
  },
  {
    name: 'sqlite_pool.connection.open_failures',
    kind: 'counter',
    unit: '{attempt}',
    description: 'Attempts to open a connection that failed (the database file missing, unreadable or locked), by error type.',
    attributes: ['error.type'],
  },
] as const satisfies readonly MetricDefinition[];

export type MetricName = (typeof METRIC_DEFINITIONS)[number]['name'];

/** Values of `sqlite_pool.close.reason` (defined with the health rules that decide them). */
export { CLOSE_REASONS, type CloseReason } from '../health/status.js';

/**
 * The name `@opentelemetry/exporter-prometheus` serves for a metric: characters outside
 * `[a-zA-Z0-9_]` become `_`, and monotonic counters get `_total`; no unit suffix is added.
 */
export function prometheusName(definition: Pick<MetricDefinition, 'name' | 'kind'>): string {
  const base = definition.name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_');
  return definition.kind === 'counter' ? `${base}_total` : base;
}
