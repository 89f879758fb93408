import {
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
} from '@opentelemetry/api';
import { METRIC_DEFINITIONS, type MetricName } from './metric-definitions.js';
import {
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  ATTR_SQLITE_POOL_CONNECTION_STATUS,
  ATTR_SQLITE_POOL_STAT,
} from './semconv.js';
import { telemetryRegistry, type ObservedPool, type PoolGaugeSnapshot } from './pool-telemetry.js';

type Definition = (typeof METRIC_DEFINITIONS)[number];
type NamesOfKind<K extends Definition['kind']> = Extract<Definition, { kind: K }>['name'];

/** What a closed pool holds: nothing. */
const CLOSED_POOL: PoolGaugeSnapshot = {
  idle: 0,
  used: 0,
  pending: 0,
  max: 0,
  idleMax: 0,
  idleMin: 0,
  byStatus: { healthy: 0, unhealthy: 0, stale: 0, expired: 0 },
  open: 0,
  ageSeconds: { max: 0, average: 0 },
  usage: { max: 0, average: 0 },
};

/** What the instruments are built for, and what their collection-time callback asks its owner. */
export interface PoolMetricsOptions {
  /** The provider `meter` came from: instruments are built once per provider (see `builtFor`). */
  readonly meterProvider: MeterProvider;
  readonly operationDurationBuckets: readonly number[] | undefined;
  /** The reported name of a pool. */
  readonly poolNameOf: (pool: ObservedPool) => string;
  /**
   * Whether the owner is still the instrumentation the pools report to. A displaced owner detaches
   * the callback, but an older copy of the package displaces it without a word: the callback then
   * observes nothing, so the pools are not counted twice.
   */
  readonly reporting: () => boolean;
}

/**
 * The instruments of one meter, built from `METRIC_DEFINITIONS` when the instrumentation first
 * needs them (never at import time, never twice for one provider). Pool gauges are observed in one
 * batch callback that reads every open pool at collection time, so pools never share or corrupt
 * each other's counts, and a closed pool stops being reported (after one last report of zeros).
 * The callback is attached while the owner is enabled; the instruments outlive a disable, so
 * enabling again builds nothing.
 */
export class PoolMetrics {
  readonly histograms: Readonly<Record<NamesOfKind<'histogram'>, Histogram>>;
  readonly counters: Readonly<Record<NamesOfKind<'counter'>, Counter>>;
  readonly #meter: Meter;
  readonly #meterProvider: MeterProvider;
  readonly #buckets: readonly number[] | undefined;
  readonly #observables: Observable[];
  readonly #callback: BatchObservableCallback;
  #attached = false;

  constructor(meter: Meter, options: PoolMetricsOptions) {
    const { operationDurationBuckets, poolNameOf, reporting } = options;
    this.#meter = meter;
    this.#meterProvider = options.meterProvider;
    this.#buckets = operationDurationBuckets === undefined ? undefined : [...operationDurationBuckets];
    const histograms: Partial<Record<string, Histogram>> = {};
    const counters: Partial<Record<string, Counter>> = {};
    const observables: Partial<Record<MetricName, Observable>> = {};
    for (const definition of METRIC_DEFINITIONS) {
      const common = { description: definition.description, unit: definition.unit };
      switch (definition.kind) {
        case 'histogram': {
          const buckets = definition.name === 'db.client.operation.duration' && operationDurationBuckets !== undefined ? operationDurationBuckets : definition.buckets;
          histograms[definition.name] = meter.createHistogram(definition.name, {
            ...common,
            valueType: ValueType.DOUBLE,
            advice: { explicitBucketBoundaries: [...buckets] },
          });
          break;
        }
        case 'counter':
          counters[definition.name] = meter.createCounter(definition.name, { ...common, valueType: ValueType.INT });
          break;
        case 'observableUpDownCounter':
          observables[definition.name] = meter.createObservableUpDownCounter(definition.name, { ...common, valueType: ValueType.INT });
          break;
        case 'observableGauge':
          observables[definition.name] = meter.createObservableGauge(definition.name, { ...common, valueType: ValueType.DOUBLE });
          break;
      }
    }
    this.histograms = histograms as PoolMetrics['histograms'];
    this.counters = counters as PoolMetrics['counters'];
    const o = observables as Record<Extract<Definition, { kind: 'observableUpDownCounter' | 'observableGauge' }>['name'], Observable>;
    this.#observables = Object.values(o);

    // Pools reported by the previous collection. A pool that closed since is reported once more,
    // with zeros: SDKs that keep re-exporting a cumulative series they saw once (opentelemetry-js
    // #4096) then show a closed pool as holding nothing, not as it was before it closed.
    let reported = new Map<ObservedPool, string>();
    this.#callback = (result) => {
      if (!reporting()) return;
      const open = new Map<ObservedPool, string>();
      // poolNameOf never throws (a failing `poolName` function falls back to the pool's own name):
      // a throw here would cost every pool its gauges.
      for (const pool of telemetryRegistry.pools) open.set(pool, poolNameOf(pool));
      const openNames = new Set(open.values());
      const observations: [string, PoolGaugeSnapshot][] = [...open].map(([pool, name]) => [name, pool.snapshot()]);
      for (const [pool, name] of reported) {
        if (!open.has(pool) && !openNames.has(name)) observations.push([name, CLOSED_POOL]);
      }
      reported = open;
      for (const [name, s] of observations) {
        const base: Attributes = { [ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: name };
        result.observe(o['db.client.connection.count'], s.idle, { ...base, [ATTR_DB_CLIENT_CONNECTION_STATE]: 'idle' });
        result.observe(o['db.client.connection.count'], s.used, { ...base, [ATTR_DB_CLIENT_CONNECTION_STATE]: 'used' });
        result.observe(o['db.client.connection.max'], s.max, base);
        result.observe(o['db.client.connection.idle.max'], s.idleMax, base);
        result.observe(o['db.client.connection.idle.min'], s.idleMin, base);
        result.observe(o['db.client.connection.pending_requests'], s.pending, base);
        for (const [status, count] of Object.entries(s.byStatus)) {
          result.observe(o['sqlite_pool.connection.health'], count, { ...base, [ATTR_SQLITE_POOL_CONNECTION_STATUS]: status });
        }
        result.observe(o['sqlite_pool.connection.age'], s.ageSeconds.max, { ...base, [ATTR_SQLITE_POOL_STAT]: 'max' });
        result.observe(o['sqlite_pool.connection.age'], s.ageSeconds.average, { ...base, [ATTR_SQLITE_POOL_STAT]: 'average' });
        result.observe(o['sqlite_pool.connection.usage'], s.usage.max, { ...base, [ATTR_SQLITE_POOL_STAT]: 'max' });
        result.observe(o['sqlite_pool.connection.usage'], s.usage.average, { ...base, [ATTR_SQLITE_POOL_STAT]: 'average' });
      }
    };
  }

  /** Whether these are the instruments for `meterProvider` with these buckets (fixed at creation). */
  builtFor(meterProvider: MeterProvider, operationDurationBuckets: readonly number[] | undefined): boolean {
    return meterProvider === this.#meterProvider && sameBuckets(operationDurationBuckets, this.#buckets);
  }

  /** Starts observing the pools at collection time (again after `detach()`: nothing is rebuilt). */
  attach(): void {
    if (this.#attached) return;
    this.#meter.addBatchObservableCallback(this.#callback, this.#observables);
    this.#attached = true;
  }

  /** Stops observing: the owner was disabled or displaced, or moved to another provider. */
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#meter.removeBatchObservableCallback(this.#callback, this.#observables);
  }
}

function sameBuckets(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((bound, i) => bound === b[i]);
}
