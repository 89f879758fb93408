import type { Database, Statement } from 'better-sqlite3';
import type { HealthyConnection } from './healthy-connection.js';

/** Where a connection is in its life; a connection is in exactly one state at a time. */
export type PooledState = 'idle' | 'reserved' | 'leased' | 'closed';

/**
 * A pool entry: the `HealthyConnection`, its state, its lease bookkeeping and its cache of
 * prepared statements (keyed by SQL text, so the shortcuts never prepare the same text twice).
 */
export class PooledConnection {
  readonly healthy: HealthyConnection;
  readonly db: Database;
  state: PooledState = 'idle';
  /** `performance.now()` when the current lease began. */
  leasedAt = 0;
  /** Stack of the current lease's acquire, kept only while leak detection is on. */
  acquireStack: string | undefined = undefined;
  leakReported = false;
  readonly #statements = new Map<string, Statement>();
  readonly #statementCacheSize: number;

  constructor(healthy: HealthyConnection, statementCacheSize: number) {
    this.healthy = healthy;
    this.db = healthy.connection;
    this.#statementCacheSize = statementCacheSize;
  }

  get connectionId(): string {
    return this.healthy.connectionId;
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
