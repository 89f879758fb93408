import type { Database, Statement } from 'better-sqlite3';
import type { HealthCheckResult, HealthyConnection } from './healthy-connection.js';
import { StatementInfo } from './statement-info.js';
import type { TraceHandle } from './telemetry/pool-telemetry.js';

/** Why a probe runs, and the span it belongs under (an acquire, a monitoring cycle). */
export interface ProbeTrigger {
  readonly trigger: 'borrow' | 'monitor' | 'connect';
  readonly parent: TraceHandle | undefined;
}

/** Where a connection is in its life; a connection is in exactly one state at a time. */
export type PooledState = 'idle' | 'reserved' | 'leased' | 'closed';

/**
 * A pool entry: the `HealthyConnection`, its state, its lease bookkeeping and its cache of
 * prepared statements (keyed by SQL text, so the shortcuts never prepare the same text twice).
 */
export class PooledConnection {
  readonly healthy: HealthyConnection;
  /** What `DatabaseManager.findConnection()` looks the entry up by: the Database, or the worker. */
  readonly key: object;
  state: PooledState = 'idle';
  /** `performance.now()` when the current lease began. */
  leasedAt = 0;
  /** Stack of the current lease's acquire, kept only while leak detection is on. */
  acquireStack: string | undefined = undefined;
  leakReported = false;
  /** Why the running probe runs (for logs and spans); set around each probe by `probe()`. */
  probeTrigger: ProbeTrigger | undefined = undefined;
  readonly #statements = new Map<string, Statement>();
  /** Worker mode: one StatementInfo per SQL text, so telemetry derives its attributes once. */
  readonly #infos = new Map<string, StatementInfo>();
  readonly #statementCacheSize: number;

  constructor(healthy: HealthyConnection, statementCacheSize: number) {
    this.healthy = healthy;
    this.key = healthy.worker ?? healthy.connection;
    this.#statementCacheSize = statementCacheSize;
  }

  /** The better-sqlite3 `Database` (in-thread mode; throws in worker mode). */
  get db(): Database {
    return this.healthy.connection;
  }

  get connectionId(): string {
    return this.healthy.connectionId;
  }

  /**
   * Probes with the trigger and parent span remembered on the connection, so the pool's probe
   * listener knows why it ran: synchronous in-thread, a promise in worker mode.
   */
  probe(trigger: ProbeTrigger['trigger'], parent: TraceHandle | undefined, force: boolean): HealthCheckResult | Promise<HealthCheckResult> {
    this.probeTrigger = { trigger, parent };
    const result = this.healthy.probe({ force });
    if (result instanceof Promise) return result.finally(() => (this.probeTrigger = undefined));
    this.probeTrigger = undefined;
    return result;
  }

  statementInfo(sql: string, kind: 'prepared' | 'exec'): StatementInfo {
    let info = this.#infos.get(sql);
    if (info === undefined) {
      info = new StatementInfo(sql, kind);
      if (this.#infos.size < Math.max(this.#statementCacheSize, 100)) this.#infos.set(sql, info);
    }
    return info;
  }

  /** Whether the connection is inside a transaction (either mode). */
  get inTransaction(): boolean {
    const worker = this.healthy.worker;
    return worker === undefined ? this.db.open && this.db.inTransaction : worker.inTransaction;
  }

  /** A prepared statement for `sql`, from the cache when this connection prepared it before. */
  statement(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (this.#statements.size >= this.#statementCacheSize) {
        // Evict the oldest entry: insertion order is cheap to keep and good enough for a cache
        // whose working set is the application's fixed set of queries.
        const oldest = this.#statements.keys().next();
        if (oldest.done !== true) this.#statements.delete(oldest.value);
      }
      if (this.#statementCacheSize > 0) this.#statements.set(sql, statement);
    }
    return statement;
  }
}
