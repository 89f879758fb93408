/**
 * generic-pool around better-sqlite3, the way a user would wire it: a factory that opens a
 * connection with its statements prepared once, `acquire()` / `release()` around each query.
 * Optionally with @opentelemetry/instrumentation-generic-pool (a span per acquire) and a hand-made
 * CLIENT span per query (started after the acquire, four attributes built once, ended after the query).
 */
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import type * as GenericPool from 'generic-pool';
import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GenericPoolInstrumentation } from '@opentelemetry/instrumentation-generic-pool';
import { INSERT_EMAIL, INSERT_NAME, RANGE_ROWS, SQL } from '../lib/db.js';
import { snapshot, startTracing, type Tracing } from '../lib/telemetry.js';
import { POOL_SIZE, type ContenderInstance, type Operations, type WorkloadName } from './types.js';

interface Connection {
  readonly db: Database.Database;
  readonly point: Database.Statement;
  readonly range: Database.Statement;
  readonly insertTx: Database.Transaction<(n: number) => Database.RunResult>;
}

function open(filename: string): Connection {
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  const insert = db.prepare(SQL.insert);
  return {
    db,
    point: db.prepare(SQL.point),
    range: db.prepare(SQL.range),
    insertTx: db.transaction((n: number) => insert.run(INSERT_NAME, INSERT_EMAIL, n)),
  };
}

export interface GenericPoolOptions {
  readonly instrumentation: boolean;
  readonly querySpan: boolean;
}

function queryAttributes(filename: string, operation: string, text: string): Attributes {
  return {
    'db.system.name': 'sqlite',
    'db.namespace': filename,
    'db.operation.name': operation,
    'db.query.text': text,
  };
}

export async function create(filename: string, options: GenericPoolOptions): Promise<ContenderInstance> {
  let tracing: Tracing | undefined;
  if (options.instrumentation || options.querySpan) {
    tracing = startTracing();
    if (options.instrumentation) {
      // Must happen before generic-pool is required: the instrumentation patches it on load.
      registerInstrumentations({
        instrumentations: [new GenericPoolInstrumentation()],
        tracerProvider: tracing.provider,
      });
    }
  }
  const require = createRequire(import.meta.url);
  const genericPool = require('generic-pool') as typeof GenericPool;
  const pool = genericPool.createPool<Connection>(
    {
      create: async () => open(filename),
      destroy: async (c) => {
        c.db.close();
      },
    },
    { max: POOL_SIZE, min: 1 },
  );

  let ops: Operations;
  if (!options.querySpan) {
    ops = {
      sync: false,
      async point(id) {
        const c = await pool.acquire();
        try {
          return c.point.get(id);
        } finally {
          void pool.release(c);
        }
      },
      async range(start) {
        const c = await pool.acquire();
        try {
          return c.range.all(start, start + RANGE_ROWS);
        } finally {
          void pool.release(c);
        }
      },
      async insert(n) {
        const c = await pool.acquire();
        try {
          return c.insertTx.immediate(n);
        } finally {
          void pool.release(c);
        }
      },
      async acquireRelease() {
        const c = await pool.acquire();
        void pool.release(c);
      },
    };
  } else {
    const tracer: Tracer = tracing!.provider.getTracer('bench-hand-made');
    const pointAttrs = queryAttributes(filename, 'SELECT', SQL.point);
    const rangeAttrs = queryAttributes(filename, 'SELECT', SQL.range);
    const insertAttrs = queryAttributes(filename, 'INSERT', SQL.insert);
    const fail = (span: ReturnType<Tracer['startSpan']>, error: unknown) => {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
    };
    ops = {
      sync: false,
      async point(id) {
        const c = await pool.acquire();
        const span = tracer.startSpan('SELECT users', { kind: SpanKind.CLIENT, attributes: pointAttrs });
        try {
          return c.point.get(id);
        } catch (error) {
          fail(span, error);
          throw error;
        } finally {
          span.end();
          void pool.release(c);
        }
      },
      async range(start) {
        const c = await pool.acquire();
        const span = tracer.startSpan('SELECT users', { kind: SpanKind.CLIENT, attributes: rangeAttrs });
        try {
          return c.range.all(start, start + RANGE_ROWS);
        } catch (error) {
          fail(span, error);
          throw error;
        } finally {
          span.end();
          void pool.release(c);
        }
      },
      async insert(n) {
        const c = await pool.acquire();
        const span = tracer.startSpan('INSERT users', { kind: SpanKind.CLIENT, attributes: insertAttrs });
        try {
          return c.insertTx.immediate(n);
        } catch (error) {
          fail(span, error);
          throw error;
        } finally {
          span.end();
          void pool.release(c);
        }
      },
      async acquireRelease() {
        const c = await pool.acquire();
        void pool.release(c);
      },
    };
  }

  const t = tracing;
  return {
    ops,
    ...(t && {
      snapshot: () => snapshot(t),
      expect: (workload: WorkloadName) => {
        const spans: Record<string, number[]> = {};
        if (options.instrumentation) spans['generic-pool.acquire'] = [1];
        if (options.querySpan && workload !== 'acquire') {
          spans[workload === 'insert' ? 'INSERT users' : 'SELECT users'] = [1];
        }
        return { spans };
      },
    }),
    async close() {
      await pool.drain();
      await pool.clear();
      await t?.provider.shutdown();
    },
  };
}
