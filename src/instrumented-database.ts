import type { Database, Statement } from 'better-sqlite3';
import { isConnectionFatal } from './errors.js';
import type { HealthyConnection } from './healthy-connection.js';
import { StatementInfo } from './statement-info.js';
import { now } from './clock.js';
import { telemetryRegistry, type ObservedPool, type StatementMethod } from './telemetry/pool-telemetry.js';

/**
 * Makes every statement executed on a pooled better-sqlite3 `Database` count: its use and query
 * time go to the `HealthyConnection`, its span and duration to telemetry, and a connection-level
 * error marks the connection for replacement. This holds however the caller reaches SQLite:
 * through the lease's helpers or through `lease.connection.prepare(...)` directly. The wrappers
 * are own properties of this one `Database` instance; better-sqlite3's prototype is untouched.
 */
export function instrumentDatabase(db: Database, connection: HealthyConnection, pool: ObservedPool): void {
  const proto = Object.getPrototypeOf(db) as Database;
  const tracked = new Tracker(connection, pool);

  db.prepare = function prepare(this: Database, source: string) {
    let statement: Statement;
    try {
      // eslint-disable-next-line prefer-rest-params
      statement = proto.prepare.apply(this, arguments as unknown as [string]);
    } catch (error) {
      // A syntax error surfaces here, not at execution: report it as the statement's failure.
      tracked.reportPrepareFailure(new StatementInfo(String(source), 'prepared'), error);
      throw error;
    }
    tracked.wrapStatement(statement, new StatementInfo(source, 'prepared'));
    return statement;
  } as Database['prepare'];

  const execInfos = new Map<string, StatementInfo>();
  db.exec = function exec(this: Database, source: string) {
    let info = execInfos.get(source);
    if (info === undefined) {
      info = new StatementInfo(source, 'exec');
      // Scripts are usually a handful of fixed strings (schema, migrations); do not grow forever.
      if (execInfos.size < 100) execInfos.set(source, info);
    }
    // eslint-disable-next-line prefer-rest-params
    tracked.execute(info, 'exec', proto.exec as never, this, arguments);
    return this;
  };

  const pragmaInfos = new Map<string, StatementInfo>();
  db.pragma = function pragma(this: Database, source: string) {
    let info = pragmaInfos.get(source);
    if (info === undefined) {
      info = new StatementInfo(source, 'pragma');
      if (pragmaInfos.size < 100) pragmaInfos.set(source, info);
    }
    // eslint-disable-next-line prefer-rest-params
    return tracked.execute(info, 'pragma', proto.pragma as never, this, arguments);
  };
}

type Original = (...args: unknown[]) => unknown;

class Tracker {
  readonly #connection: HealthyConnection;
  readonly #pool: ObservedPool;

  constructor(connection: HealthyConnection, pool: ObservedPool) {
    this.#connection = connection;
    this.#pool = pool;
  }

  wrapStatement(statement: Statement, info: StatementInfo): void {
    const self = this;
    const target = statement as unknown as Record<StatementMethod, Original>;
    for (const method of ['run', 'get', 'all'] as const) {
      const original = target[method];
      target[method] = function (this: unknown) {
        // eslint-disable-next-line prefer-rest-params
        return self.execute(info, method, original, this, arguments);
      };
    }
    const iterate = target.iterate;
    target.iterate = function (this: unknown) {
      // eslint-disable-next-line prefer-rest-params
      return self.execute(info, 'iterate', iterate, this, arguments);
    };
  }

  reportPrepareFailure(info: StatementInfo, error: unknown): void {
    if (isConnectionFatal(error)) this.#connection.markUnhealthy();
    const telemetry = telemetryRegistry.active;
    if (telemetry === undefined) return;
    try {
      telemetry.executeStatement(this.#pool, this.#connection, info, 'prepare', () => { throw error; }, undefined, []);
    } catch {
      // The span recorded the error; the caller gets the original from prepare().
    }
  }

  /** The hot path: one `undefined` check decides between bare timing and telemetry; no closures. */
  execute(info: StatementInfo, method: StatementMethod, original: Original, self: unknown, args: ArrayLike<unknown>): unknown {
    const telemetry = telemetryRegistry.active;
    const startedAt = now();
    let result: unknown;
    try {
      result =
        telemetry === undefined
          ? original.apply(self, args as unknown[])
          : telemetry.executeStatement(this.#pool, this.#connection, info, method, original, self, args);
    } catch (error) {
      this.#connection.recordUsage(now() - startedAt);
      if (isConnectionFatal(error)) this.#connection.markUnhealthy();
      throw error;
    }
    if (method === 'iterate') return this.#timedIterator(result as Iterator<unknown>, now() - startedAt);
    const endedAt = now();
    this.#connection.recordUsage(endedAt - startedAt, endedAt);
    return result;
  }

  /** An iterator's statement runs while the caller pulls rows: its time is the pulls' time. */
  *#timedIterator(iterator: Iterator<unknown>, setupMs: number): Generator<unknown, void, undefined> {
    let elapsed = setupMs;
    try {
      for (;;) {
        const startedAt = now();
        let step: IteratorResult<unknown>;
        try {
          step = iterator.next();
        } catch (error) {
          if (isConnectionFatal(error)) this.#connection.markUnhealthy();
          throw error;
        } finally {
          elapsed += now() - startedAt;
        }
        if (step.done) return;
        yield step.value;
      }
    } finally {
      iterator.return?.();
      this.#connection.recordUsage(elapsed);
    }
  }
}
