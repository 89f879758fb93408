/**
 * knex with the better-sqlite3 client (its own tarn pool, max 4). `knex.raw` for every statement,
 * or the query builder (`builder: true`) to show what it adds. Optionally with
 * @opentelemetry/instrumentation-knex (a span per query, default config).
 */
import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { KnexInstrumentation } from '@opentelemetry/instrumentation-knex';
import { INSERT_EMAIL, INSERT_NAME, RANGE_ROWS, SQL } from '../lib/db.js';
import { snapshot, startTracing, type Tracing } from '../lib/telemetry.js';
import { POOL_SIZE, type ContenderInstance, type Operations, type WorkloadName } from './types.js';

export interface KnexOptions {
  readonly instrumentation: boolean;
  readonly builder: boolean;
}

interface KnexClientPoolApi {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

export async function create(filename: string, options: KnexOptions): Promise<ContenderInstance> {
  let tracing: Tracing | undefined;
  if (options.instrumentation) {
    tracing = startTracing();
    // Must happen before knex is required: the instrumentation patches knex's files on load.
    registerInstrumentations({
      instrumentations: [new KnexInstrumentation()],
      tracerProvider: tracing.provider,
    });
  }
  const require = createRequire(import.meta.url);
  const { knex } = require('knex') as typeof import('knex');
  const db: Knex = knex({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: { min: 1, max: POOL_SIZE },
  });
  // Open the first connection before timing starts.
  await db.raw('SELECT 1');
  const client = db.client as KnexClientPoolApi;

  const acquireRelease = async () => {
    const connection = await client.acquireConnection();
    await client.releaseConnection(connection);
  };
  const ops: Operations = options.builder
    ? {
        sync: false,
        point: (id) => db('users').where('id', id).first(),
        range: (start) =>
          db('users').where('id', '>=', start).andWhere('id', '<', start + RANGE_ROWS),
        insert: (n) =>
          db.transaction((trx) =>
            trx('users').insert({ name: INSERT_NAME, email: INSERT_EMAIL, score: n }),
          ),
        acquireRelease,
      }
    : {
        sync: false,
        point: (id) => db.raw(SQL.point, [id]),
        range: (start) => db.raw(SQL.range, [start, start + RANGE_ROWS]),
        insert: (n) => db.transaction((trx) => trx.raw(SQL.insert, [INSERT_NAME, INSERT_EMAIL, n])),
        acquireRelease,
      };

  const t = tracing;
  return {
    ops,
    ...(t && {
      snapshot: () => snapshot(t),
      // instrumentation-knex names a span "<operation> <database>" ("raw /tmp/.../bench.db"): one
      // per statement. Its transaction's BEGIN and COMMIT get no span; a bare acquire gets none.
      expect: (workload: WorkloadName) => ({
        spans: workload === 'acquire' ? {} : { [`raw ${filename}`]: [1] },
      }),
    }),
    async close() {
      await db.destroy();
      await t?.provider.shutdown();
    },
  };
}
