import type { ConnectionBackend } from '../backend/backend.js';
import type { HealthCheckResult, HealthyConnection } from '../health/healthy-connection.js';
import type { LeaseHolder, LeasedConnection } from '../lease/leased-connection.js';
import type { HealthCheckTrigger, TraceHandle } from '../telemetry/pool-telemetry.js';

/**
 * Where a connection is in its life; it is in exactly one state at a time. `opening` until it
 * has passed its first probe and joined the pool: nothing may retire (or count) it before.
 */
export type EntryState = 'opening' | 'idle' | 'reserved' | 'leased' | 'closed';


/**
 * One pooled connection: its health wrapper (and through it the backend), its state in the pool
 * and the bookkeeping of its current lease.
 */
export class PoolEntry implements LeasedConnection {
  readonly healthy: HealthyConnection;
  state: EntryState = 'opening';
  /** The lease it is lent to, while `leased`. */
  lease: LeaseHolder | undefined = undefined;
  /** `performance.now()` when the current lease began. */
  leasedAt = 0;
  /** Stack of the current lease's acquire, kept only while leak detection is on. */
  acquireStack: string | undefined = undefined;
  leakReported = false;
  /**
   * A statement failed with a connection-level code that may concern another file (an attached
   * database, a virtual table): a deep probe decides before the connection is lent again.
   */
  suspect = false;
  /** Close to its age or usage limit: its successor is being opened ahead of need (see `ConnectionSet.expiring`). */
  expiring = false;
  /** Why the running probe runs, and the span it belongs under (for logs and telemetry). */
  probeContext: { readonly trigger: HealthCheckTrigger; readonly parent: TraceHandle | undefined } | undefined = undefined;

  constructor(healthy: HealthyConnection) {
    this.healthy = healthy;
  }

  get backend(): ConnectionBackend {
    return this.healthy.backend;
  }

  get id(): string {
    return this.healthy.connectionId;
  }

  /** Probes with why it runs remembered, so the pool's probe listener can report it. */
  async probe(trigger: HealthCheckTrigger, parent: TraceHandle | undefined, force: boolean): Promise<HealthCheckResult> {
    this.probeContext = { trigger, parent };
    try {
      return await this.healthy.probe({ force, deep: this.suspect });
    } finally {
      this.probeContext = undefined;
    }
  }
}
