/**
 * Fault injection for the demo: things that happen to real SQLite services, done behind the
 * pool's back so that its health checks have to find them.
 */
import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { DatabaseManager, Lease, MonitoringCycleResult } from '../../src/index.js';
import { deletedPathOf } from './database.js';

export interface FaultOutcome {
  /** HTTP status for the answer: 200 done, 409 not possible in the current state. */
  status: 200 | 409;
  fault: string;
  message: string;
  [detail: string]: unknown;
}

export interface ActiveFaults {
  /** The database file was moved away (delete-db). */
  deleted: boolean;
  /** Another connection holds an exclusive lock (lock-db). */
  locked: boolean;
  /** Pooled connections whose handle was closed behind the pool's back and that the pool has not noticed yet. */
  closedConnections: string[];
  /** Leases taken and held by hold-connections (pool exhaustion). */
  heldLeases: number;
}

export class FaultInjector {
  readonly #db: DatabaseManager;
  readonly #filename: string;
  readonly #aside: string;
  #locker: Database.Database | undefined;
  #deleted = false;
  #held: Lease[] = [];

  constructor(db: DatabaseManager, filename: string) {
    this.#db = db;
    this.#filename = filename;
    this.#aside = deletedPathOf(filename);
  }

  active(): ActiveFaults {
    return {
      deleted: this.#deleted,
      locked: this.#locker !== undefined,
      closedConnections: [...this.#db.connections()].filter((c) => !c.connection.open).map((c) => c.connectionId),
      heldLeases: this.#held.length,
    };
  }

  get any(): boolean {
    const a = this.active();
    return a.deleted || a.locked || a.closedConnections.length > 0 || a.heldLeases > 0;
  }

  /** Moves the database file away (so restore-db can put it back): probes fail, replacements cannot open. */
  deleteDb(): FaultOutcome {
    if (this.#deleted) return { status: 409, fault: 'delete-db', message: 'The database file is already deleted; POST /faults/restore-db' };
    renameSync(this.#filename, this.#aside);
    this.#deleted = true;
    const interval = this.#db.healthCheckConfig.intervalMs / 1000;
    return {
      status: 200,
      fault: 'delete-db',
      message:
        `Moved ${this.#filename} to ${this.#aside}. The pool's probes now fail with SQLITE_POOL_FILE_MISSING: each connection ` +
        `is evicted at its next probe (on borrow, or by the monitoring cycle every ${interval} s), and no replacement can open ` +
        `(the pool runs with fileMustExist, so SQLite does not create an empty database instead). /healthz turns 503 and ` +
        `requests fail with 503 until POST /faults/restore-db.`,
      movedTo: this.#aside,
    };
  }

  /** Puts the file back and runs a monitoring cycle, so the pool refills now instead of at its next retry. */
  async restoreDb(): Promise<FaultOutcome> {
    if (!this.#deleted) return { status: 409, fault: 'restore-db', message: 'The database file is not deleted' };
    if (existsSync(this.#filename)) {
      return { status: 409, fault: 'restore-db', message: `${this.#filename} exists again; ${this.#aside} was left where it is` };
    }
    renameSync(this.#aside, this.#filename);
    this.#deleted = false;
    const cycle = await this.#db.healthManager.runCycle();
    return { status: 200, fault: 'restore-db', message: `Moved ${this.#aside} back to ${this.#filename}; the pool refills`, cycle };
  }

  /** A separate connection takes the write lock with BEGIN EXCLUSIVE and keeps it. */
  lockDb(): FaultOutcome {
    if (this.#locker !== undefined) return { status: 409, fault: 'lock-db', message: 'The database is already locked; POST /faults/unlock-db' };
    if (this.#deleted) return { status: 409, fault: 'lock-db', message: 'The database file is deleted; restore it first' };
    const locker = new Database(this.#filename, { fileMustExist: true, timeout: 1000 });
    try {
      locker.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      locker.close();
      throw error;
    }
    this.#locker = locker;
    const busy = this.#db.options.busyTimeoutMs;
    return {
      status: 200,
      fault: 'lock-db',
      message:
        `Another connection holds BEGIN EXCLUSIVE on ${this.#filename}. In WAL mode reads go on; writes (POST /users) wait ` +
        `for the lock up to the busy timeout (${busy} ms, DB_BUSY_TIMEOUT) and fail with SQLITE_BUSY (503). Probes running ` +
        `"${this.#db.healthCheckConfig.query}" ` +
        (/^\s*select\s+1\s*;?\s*$/i.test(this.#db.healthCheckConfig.query)
          ? 'pass: a lock is contention, not a broken connection. Start the demo with DB_HEALTH_CHECK_QUERY="BEGIN IMMEDIATE; ROLLBACK" to make probes fail on it too.'
          : 'may fail if they need the write lock.'),
    };
  }

  unlockDb(): FaultOutcome {
    const locker = this.#locker;
    if (locker === undefined) return { status: 409, fault: 'unlock-db', message: 'The database is not locked' };
    this.#locker = undefined;
    if (locker.open) {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    }
    return { status: 200, fault: 'unlock-db', message: 'Released the exclusive lock' };
  }

  /** Closes a pooled connection's handle behind the pool's back (the pool's probe finds the handle closed). */
  closeConnection(): FaultOutcome {
    for (const c of this.#db.connections()) {
      if (!c.connection.open) continue;
      c.connection.close();
      return {
        status: 200,
        fault: 'close-connection',
        connectionId: c.connectionId,
        message:
          `Closed ${c.connectionId} behind the pool's back. It counts as unhealthy now; the pool closes it (reason error) and replaces it at ` +
          `the next borrow that meets it or at the next monitoring cycle (every ${this.#db.healthCheckConfig.intervalMs / 1000} s).`,
      };
    }
    return { status: 409, fault: 'close-connection', message: 'The pool has no open connection to close' };
  }

  /**
   * Takes every connection the pool may open (poolSize leases) and keeps them: code that never
   * releases its leases. Callers queue and time out; the leak detector reports each lease.
   */
  async holdConnections(): Promise<FaultOutcome> {
    if (this.#held.length > 0) return { status: 409, fault: 'hold-connections', message: 'Connections are already held; POST /faults/release-connections' };
    const size = this.#db.options.poolSize;
    // One at a time, in line with the other callers: each is lent as soon as a lease comes back.
    const held: Lease[] = [];
    try {
      for (let i = 0; i < size; i++) held.push(await this.#db.getConnection());
    } catch (error) {
      for (const lease of held) lease.release();
      throw error;
    }
    this.#held = held;
    return {
      status: 200,
      fault: 'hold-connections',
      held: held.length,
      message:
        `Holding all ${size} connections of the pool without releasing them. Requests wait for a connection and time out ` +
        `after ${this.#db.options.acquireTimeoutMs} ms (503); the leak detector reports each lease after ` +
        `${this.#db.options.leakDetectionThresholdMs} ms. POST /faults/release-connections gives them back.`,
    };
  }

  releaseConnections(): FaultOutcome {
    if (this.#held.length === 0) return { status: 409, fault: 'release-connections', message: 'No connection is held' };
    const released = this.#held.length;
    for (const lease of this.#held) lease.release();
    this.#held = [];
    return { status: 200, fault: 'release-connections', released, message: `Released ${released} held connections` };
  }

  /** Undoes every fault and runs a monitoring cycle now. */
  async clear(): Promise<FaultOutcome> {
    const cleared: string[] = [];
    if (this.#held.length > 0) {
      this.releaseConnections();
      cleared.push('hold-connections');
    }
    if (this.#locker !== undefined) {
      this.unlockDb();
      cleared.push('lock-db');
    }
    if (this.#deleted) {
      const restored = await this.restoreDb();
      if (restored.status === 200) cleared.push('delete-db');
    }
    const closed = this.active().closedConnections;
    const cycle: MonitoringCycleResult = await this.#db.healthManager.runCycle();
    if (closed.length > 0) cleared.push(`close-connection (${closed.join(', ')} replaced)`);
    return {
      status: 200,
      fault: 'clear',
      cleared,
      cycle,
      message: cleared.length === 0 ? 'No fault was active; ran a monitoring cycle' : `Cleared ${cleared.join(', ')}; ran a monitoring cycle`,
    };
  }

  /** At shutdown: release the lock and put a deleted file back, so the next run finds the database. */
  dispose(): void {
    if (this.#held.length > 0) this.releaseConnections();
    if (this.#locker !== undefined) this.unlockDb();
    if (this.#deleted && !existsSync(this.#filename) && existsSync(this.#aside)) {
      renameSync(this.#aside, this.#filename);
      this.#deleted = false;
    }
  }
}
