/**
 * The SDK floor (issue 11: "a bare program that makes exactly the same SDK calls, measured beside
 * ours, is the floor"): raw better-sqlite3, statements prepared once, plus the OpenTelemetry
 * calls otel-sqlite-pool makes for one read at its defaults, and nothing of the pool. Ours minus
 * this floor is what the pool itself costs; the floor minus raw is what the SDK costs, which no
 * pool that makes these calls can get under.
 *
 * THE CALLS, per read, in the order ours makes them (src/pool/pool-core.ts, shortcuts.ts,
 * lease/statement-runner.ts, telemetry/telemetry-recorder.ts). When ours changes which calls it
 * makes, change `shortcutRead` / `leaseRead` below to match; nothing else here needs to change.
 *
 * Shortcut (`db.get`, variants `sdk-floor` and `sdk-floor-metrics`):
 *   1. clock read: the lend (`Pump.lendNow`'s `now()`, the statement's start and the lease's)
 *   2. `db.client.connection.wait_time`.record(0, pool attributes) — `PoolCore.lendNow` →
 *      `acquireEnded(pool, undefined, 0, ...)`
 *   3. `context.active()` — `statementStarted`
 *   4. `tracer.startSpan(spanName, { kind: CLIENT, attributes: statement's cached span attributes }, parent)`
 *   5. `span.isRecording()` (enhancedDatabaseReporting off, no requestHook: nothing else)
 *   6. the statement (better-sqlite3, cached prepared statement)
 *   7. clock read: the end (`finish()`)
 *   8. `db.client.operation.duration`.record(end − lend, statement's cached metric attributes) — `statementEnded`
 *   9. `span.end()` (no responseHook: no second isRecording) — `statementEnded`
 *  10. `db.client.connection.use_time`.record(end − lend, pool attributes) — `returned` → `leaseReleased`
 *
 * Explicit lease (`getConnection()`, `lease.get()`, `release()`; variant `sdk-floor-lease`):
 *   clock read (lend); `context.active()`; `tracer.startSpan('sqlite_pool.acquire', { kind: INTERNAL,
 *   attributes: pool attributes }, parent)` — `acquireStarted`; wait_time.record(0, pool attributes);
 *   `span.setAttribute('sqlite_pool.connection.id', id)`; `span.setAttribute('sqlite_pool.acquire.wait_ms', 0)`;
 *   `span.end()` — `acquireEnded`; then steps 3–9 of the shortcut with their own start clock read
 *   (`runStatement`'s `now()`); then a clock read and use_time.record(release − lend) — `returned`.
 *
 * Built the same way as ours: histograms from METRIC_DEFINITIONS (same names, units, value type and
 * bucket advice, as PoolMetrics builds them) on a real MeterProvider with the manual reader; the
 * statement's attribute objects from ours' own `statementTelemetry()` (so they are identical, key
 * order included), the pool's as the recorder builds them (one frozen object); the tracer and meter
 * from the providers with a name, version and schema URL. With metrics only (`sdk-floor-metrics`,
 * like `ours+metrics`) there is no tracer provider and no context manager: ours then makes no span
 * at all (src/telemetry/live-tracer.ts), so the floor skips steps 3–5 and 9.
 *
 * Not in the floor: what ours does around these calls (the promise it returns and the caller's
 * `await`, the pool's bookkeeping). The floor is synchronous, so the worker does not await it.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { SpanKind, ValueType, context, type Attributes, type Histogram, type Tracer } from '@opentelemetry/api';
import { METRIC_DEFINITIONS } from '../../src/telemetry/metric-definitions.js';
import type { ObservedPool } from '../../src/telemetry/pool-telemetry.js';
import * as sc from '../../src/telemetry/semconv.js';
import { statementTelemetry, type StatementTelemetry } from '../../src/telemetry/statement-attributes.js';
import { StatementInfo } from '../../src/telemetry/statement-info.js';
import { VERSION } from '../../src/version.js';
import { INSERT_EMAIL, INSERT_NAME, RANGE_ROWS, SQL } from '../lib/db.js';
import { snapshot, startMetrics, startTracing, type Expectation, type Metrics, type Tracing } from '../lib/telemetry.js';
import type { ContenderInstance, Operations, WorkloadName } from './types.js';

export type FloorVariant = 'traces' | 'metrics' | 'lease';

/** SqlitePoolInstrumentation's default `maxQueryLength`. */
const MAX_QUERY_LENGTH = 2048;
const SCOPE = 'otel-sqlite-pool-sdk-floor';

type Histograms = Record<string, Histogram>;

/** Every histogram of METRIC_DEFINITIONS, created as PoolMetrics creates them. */
function histogramsOf(metrics: Metrics): Histograms {
  const meter = metrics.provider.getMeter(SCOPE, VERSION, { schemaUrl: sc.SCHEMA_URL });
  const out: Histograms = {};
  for (const definition of METRIC_DEFINITIONS) {
    if (definition.kind !== 'histogram') continue;
    out[definition.name] = meter.createHistogram(definition.name, {
      description: definition.description,
      unit: definition.unit,
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: [...definition.buckets] },
    });
  }
  return out;
}

interface Calls {
  /** None with metrics only: ours makes no span while no tracer provider could record one. */
  readonly tracer: Tracer | undefined;
  readonly duration: Histogram;
  readonly waitTime: Histogram;
  readonly useTime: Histogram;
  readonly poolAttributes: Attributes;
  readonly connectionId: string;
}

type Read = (stmt: Database.Statement, t: StatementTelemetry, many: boolean, a: number, b: number) => unknown;

/** A one-statement shortcut (`db.get` / `db.all`): steps 1–10 above. */
function shortcutRead(c: Calls): Read {
  const { tracer, duration, waitTime, useTime, poolAttributes } = c;
  return (stmt, t, many, a, b) => {
    const lentAt = performance.now();
    waitTime.record(0, poolAttributes);
    const span = tracer?.startSpan(t.spanName, { kind: SpanKind.CLIENT, attributes: t.spanAttributes }, context.active());
    span?.isRecording();
    const result = many ? stmt.all(a, b) : stmt.get(a);
    const endedAt = performance.now();
    duration.record((endedAt - lentAt) / 1000, t.metricAttributes);
    span?.end();
    useTime.record((endedAt - lentAt) / 1000, poolAttributes);
    return result;
  };
}

/**
 * `db.transaction(async (tx) => tx.run(insert))`, as ours records it: the lend's wait time, then
 * BEGIN, the INSERT and COMMIT each as a statement (steps 3–9: a span and a duration point each),
 * then the use time.
 */
function transactionInsert(c: Calls, statements: readonly [Database.Statement, StatementTelemetry][]): (n: number) => unknown {
  const { tracer, duration, waitTime, useTime, poolAttributes } = c;
  return (n) => {
    const lentAt = performance.now();
    waitTime.record(0, poolAttributes);
    let startedAt = lentAt;
    let result: unknown;
    for (const [stmt, t] of statements) {
      const span = tracer?.startSpan(t.spanName, { kind: SpanKind.CLIENT, attributes: t.spanAttributes }, context.active());
      span?.isRecording();
      result = stmt.reader ? stmt.get() : t.spanName.startsWith('INSERT') ? stmt.run(INSERT_NAME, INSERT_EMAIL, n) : stmt.run();
      const endedAt = performance.now();
      duration.record((endedAt - startedAt) / 1000, t.metricAttributes);
      span?.end();
      startedAt = endedAt;
    }
    useTime.record((performance.now() - lentAt) / 1000, poolAttributes);
    return result;
  };
}

/** An explicit lease around one statement: the acquire span, then the shortcut's statement calls. */
function leaseRead(c: Calls): Read {
  const { duration, waitTime, useTime, poolAttributes, connectionId } = c;
  const tracer = c.tracer as Tracer; // the lease floor always traces
  return (stmt, t, many, a, b) => {
    const lentAt = performance.now();
    const acquire = tracer.startSpan(sc.SPAN_ACQUIRE, { kind: SpanKind.INTERNAL, attributes: poolAttributes }, context.active());
    waitTime.record(0, poolAttributes);
    acquire.setAttribute(sc.ATTR_SQLITE_POOL_CONNECTION_ID, connectionId);
    acquire.setAttribute(sc.ATTR_SQLITE_POOL_WAIT_MS, 0);
    acquire.end();
    const startedAt = performance.now();
    const parent = context.active();
    const span = tracer.startSpan(t.spanName, { kind: SpanKind.CLIENT, attributes: t.spanAttributes }, parent);
    span.isRecording();
    const result = many ? stmt.all(a, b) : stmt.get(a);
    const endedAt = performance.now();
    duration.record((endedAt - startedAt) / 1000, t.metricAttributes);
    span.end();
    useTime.record((performance.now() - lentAt) / 1000, poolAttributes);
    return result;
  };
}

function expectation(variant: FloorVariant, workload: WorkloadName): Expectation {
  const metrics = {
    'db.client.operation.duration': [workload === 'insert' ? 3 : 1],
    'db.client.connection.wait_time': [1],
    'db.client.connection.use_time': [1],
  };
  if (variant === 'metrics') return { metrics };
  const spans: Record<string, number[]> = workload === 'insert' ? { BEGIN: [1], 'INSERT users': [1], COMMIT: [1] } : { 'SELECT users': [1] };
  if (variant === 'lease') spans[sc.SPAN_ACQUIRE] = [1];
  return { spans, metrics };
}

export async function create(filename: string, variant: FloorVariant): Promise<ContenderInstance> {
  const metrics = startMetrics();
  const tracing: Tracing | undefined = variant === 'metrics' ? undefined : startTracing();
  // Ours without a tracer provider makes no span (no SDK registered a global one), nor does the floor.
  const tracer = tracing?.provider.getTracer(SCOPE, VERSION, { schemaUrl: sc.SCHEMA_URL });
  const histograms = histogramsOf(metrics);
  // The pool's defaults: the pool name is the file's name, and so is db.namespace (dbNamespace 'fileName').
  const poolName = path.basename(filename);
  // statementTelemetry reads only `namespace` from the pool.
  const pool = { namespace: filename } as unknown as ObservedPool;
  const telemetryOf = (sql: string) => statementTelemetry(new StatementInfo(sql, 'prepared'), pool, poolName, { maxQueryLength: MAX_QUERY_LENGTH, dbNamespace: 'fileName' }, 1);
  const calls: Calls = {
    tracer,
    duration: histograms['db.client.operation.duration']!,
    waitTime: histograms['db.client.connection.wait_time']!,
    useTime: histograms['db.client.connection.use_time']!,
    poolAttributes: Object.freeze({ [sc.ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: poolName }),
    connectionId: 'conn_1',
  };
  const read = variant === 'lease' ? leaseRead(calls) : shortcutRead(calls);

  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  const point = db.prepare(SQL.point);
  const range = db.prepare(SQL.range);
  const pointTelemetry = telemetryOf(SQL.point);
  const rangeTelemetry = telemetryOf(SQL.range);
  const ops: Operations = {
    sync: true,
    point: (id) => read(point, pointTelemetry, false, id, 0),
    range: (start) => read(range, rangeTelemetry, true, start, start + RANGE_ROWS),
    insert: transactionInsert(calls, [
      [db.prepare('BEGIN'), telemetryOf('BEGIN')],
      [db.prepare(SQL.insert), telemetryOf(SQL.insert)],
      [db.prepare('COMMIT'), telemetryOf('COMMIT')],
    ]),
  };
  const t = tracing;
  return {
    ops,
    snapshot: () => snapshot(t, metrics),
    expect: (workload: WorkloadName) => expectation(variant, workload),
    async close() {
      db.close();
      await t?.provider.shutdown();
      await metrics.provider.shutdown();
    },
  };
}
