import type { ConnectionBackend } from '../backend/backend.js';
import type { HealthyConnection } from '../health/healthy-connection.js';

/**
 * What a lease holds: one pooled connection, as the lease layer sees it (the pool's entries are
 * these). Leases run statements on it and report what the statements say about it; the pool's
 * bookkeeping stays the pool's.
 */
export interface LeasedConnection {
  readonly id: string;
  readonly backend: ConnectionBackend;
  readonly healthy: HealthyConnection;
  /** A connection-level error that may concern another file: the pool probes it before lending it again. */
  suspect: boolean;
  /** The lease it is lent to, while it is. */
  lease: LeaseHolder | undefined;
}

/** The lease a connection is lent to, as the pool sees it: something it can end. */
export interface LeaseHolder {
  /** Ends the lease now (`close()` past its deadline): its statements throw from here on. */
  end(): void;
}

/** One writer at a time, re-entrant for its holder (the pool's `WriteGate`). */
export interface WriteGateway {
  heldBy(owner: object): boolean;
  /** Takes the gate now if it is free (or already `owner`'s); never waits. */
  tryEnter(owner: object): boolean;
  /** Resolves once `owner` holds the gate; rejects with `BusyTimeoutError` after `timeoutMs`. */
  enter(owner: object, timeoutMs: number): Promise<void>;
  leave(owner: object): void;
}
