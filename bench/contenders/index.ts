/**
 * Every contender, by the name `--only` takes. Each module is imported only in the worker process
 * that runs it, so one contender's instrumentation never patches another's library.
 */
import { WORKLOADS, type ContenderDefinition, type WorkloadName } from './types.js';

const ALL: readonly WorkloadName[] = WORKLOADS;
const NOT_POOLS: readonly WorkloadName[] = ['point', 'range', 'insert'];

export const CONTENDERS: Record<string, ContenderDefinition> = {
  raw: {
    description:
      'raw better-sqlite3, cached prepared statements, a second connection (the noise floor: expect 1.0)',
    workloads: NOT_POOLS,
    create: async (f) => (await import('./raw.js')).create(f),
  },
  'raw+promise': {
    description: 'raw better-sqlite3 behind an async API (a resolved promise per operation, awaited): the floor of any promise-returning pool',
    workloads: NOT_POOLS,
    create: async (f) => (await import('./raw.js')).createAsync(f),
  },
  'generic-pool': {
    description: 'generic-pool 3 around better-sqlite3 (statements prepared once per connection)',
    workloads: ALL,
    create: async (f) =>
      (await import('./generic-pool.js')).create(f, { instrumentation: false, querySpan: false }),
  },
  'generic-pool+otel': {
    description: 'generic-pool with @opentelemetry/instrumentation-generic-pool (a span per acquire)',
    workloads: ALL,
    create: async (f) =>
      (await import('./generic-pool.js')).create(f, { instrumentation: true, querySpan: false }),
  },
  'generic-pool+otel+span': {
    description:
      'generic-pool with its instrumentation plus a hand-made CLIENT span per query (acquire+release alone: same as generic-pool+otel, not repeated)',
    workloads: ['point', 'range', 'insert', 'concurrent'],
    create: async (f) =>
      (await import('./generic-pool.js')).create(f, { instrumentation: true, querySpan: true }),
  },
  knex: {
    description: 'knex 3, client better-sqlite3, knex.raw (acquire+release: knex.client.acquireConnection/releaseConnection)',
    workloads: ALL,
    create: async (f) => (await import('./knex.js')).create(f, { instrumentation: false, builder: false }),
  },
  'knex-builder': {
    description: 'knex query builder instead of knex.raw (what the builder adds)',
    workloads: NOT_POOLS,
    create: async (f) => (await import('./knex.js')).create(f, { instrumentation: false, builder: true }),
  },
  'knex+otel': {
    description: 'knex.raw with @opentelemetry/instrumentation-knex (a span per query)',
    workloads: ALL,
    create: async (f) => (await import('./knex.js')).create(f, { instrumentation: true, builder: false }),
  },
  'raw+plugin': {
    description:
      'raw better-sqlite3 with opentelemetry-plugin-better-sqlite3 (a span per statement call, no pool), loaded with createRequire after the plugin is registered',
    workloads: NOT_POOLS,
    create: async (f) => (await import('./plugin.js')).create(f),
  },
  'sqlite-pool': {
    description: '@matteo.collina/sqlite-pool (no acquire/release API of its own)',
    workloads: ['point', 'range', 'insert', 'concurrent'],
    create: async (f) => (await import('./sqlite-pool.js')).create(f),
  },
  ours: {
    description: 'otel-sqlite-pool, no instrumentation registered',
    workloads: ALL,
    create: async (f) => (await import('./ours.js')).create(f, 'none'),
  },
  'ours+metrics': {
    description: 'otel-sqlite-pool, SqlitePoolInstrumentation with a MeterProvider only',
    workloads: ALL,
    create: async (f) => (await import('./ours.js')).create(f, 'metrics'),
  },
  'ours+metrics+traces': {
    description:
      'otel-sqlite-pool, SqlitePoolInstrumentation with a MeterProvider and a TracerProvider (AlwaysOn, BatchSpanProcessor, AsyncLocalStorage context manager)',
    workloads: ALL,
    create: async (f) => (await import('./ours.js')).create(f, 'traces'),
  },
  'ours+metrics+traces+lease': {
    description:
      'ours+metrics+traces, the point read through an explicit lease: await db.getConnection(), await lease.get(sql, [id]), lease.release() (an acquire span and a statement span)',
    workloads: ['point'],
    create: async (f) => (await import('./ours.js')).create(f, 'traces', { leasePoint: true }),
  },
  'sdk-floor': {
    description:
      "SDK floor for ours+metrics+traces: raw better-sqlite3 plus exactly the SDK calls ours makes per db.get (one span, three histogram records), nothing of the pool (contenders/sdk-floor.ts lists them)",
    workloads: ['point', 'range', 'insert'],
    create: async (f) => (await import('./sdk-floor.js')).create(f, 'traces'),
  },
  'sdk-floor-metrics': {
    description: "SDK floor for ours+metrics: the same three histogram records, the no-op tracer's calls, no span",
    workloads: ['point', 'range', 'insert'],
    create: async (f) => (await import('./sdk-floor.js')).create(f, 'metrics'),
  },
  'sdk-floor-lease': {
    description:
      'SDK floor for ours+metrics+traces+lease: the acquire span, the statement span and the three histogram records ours makes per explicit lease',
    workloads: ['point'],
    create: async (f) => (await import('./sdk-floor.js')).create(f, 'lease'),
  },
};
