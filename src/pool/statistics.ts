import type { PoolSnapshot } from '../errors.js';
import { poolStatisticsOf, type PoolStatistics } from '../health/pool-statistics.js';
import { CLOSE_REASONS, type CloseReason } from '../health/status.js';
import type { PoolGaugeSnapshot } from '../telemetry/pool-telemetry.js';
import type { ConnectionSet } from './connection-set.js';

/** Counters over the pool's whole life. */
export interface LifetimeCounters {
  /** Connections opened (each passed its first probe). */
  created: number;
  closed: Record<CloseReason, number>;
  /** Attempts to open a connection that failed (`sqlite_pool.connection.open_failures`). */
  openFailures: number;
  healthChecks: number;
  healthCheckFailures: number;
  timeouts: number;
  leaks: number;
  /** Statements executed on connections that have since closed. */
  closedConnectionUsage: number;
  /**
   * Reports telemetry could not make (a span processor or exporter that threw, a `poolName`
   * function or hook that threw or rejected); the pool went on without them. The first of each
   * kind is logged at warn level.
   */
  telemetryFailures: number;
}

/** The guide's `get_connection_stats()`: pool counts plus the pool statistics. */
export interface ConnectionStatsReport extends PoolStatistics {
  /** Open connections (idle, being probed and leased). */
  poolSize: number;
  maxPoolSize: number;
  /** Idle connections ready to lend. */
  availableConnections: number;
  /** Leased connections. */
  usedConnections: number;
  /** Callers waiting for a connection. */
  pendingRequests: number;
  /** Connections being opened (they count against `maxPoolSize` already). */
  openingConnections: number;
  /** Connections being closed (they count against `maxPoolSize` until the close has finished). */
  closingConnections: number;
  initialized: boolean;
  /** Counters over the pool's whole life. */
  lifetime: LifetimeCounters;
}

/**
 * The pool's figures: the lifetime counters, and the one reading of its connections that the
 * statistics API, the observable metrics and the acquire-timeout message all derive from, so they
 * can never disagree.
 */
export class Statistics {
  readonly lifetime: LifetimeCounters = {
    created: 0,
    closed: Object.fromEntries(CLOSE_REASONS.map((reason) => [reason, 0])) as Record<CloseReason, number>,
    openFailures: 0,
    healthChecks: 0,
    healthCheckFailures: 0,
    timeouts: 0,
    leaks: 0,
    closedConnectionUsage: 0,
    telemetryFailures: 0,
  };
  readonly #set: ConnectionSet;
  readonly #pending: () => number;
  readonly #limits: () => { readonly max: number; readonly min: number };

  constructor(set: ConnectionSet, pending: () => number, limits: () => { readonly max: number; readonly min: number }) {
    this.#set = set;
    this.#pending = pending;
    this.#limits = limits;
  }

  /** The guide's pool statistics, over the pool's whole life. */
  poolStatistics(nowMs = performance.now()): PoolStatistics {
    return poolStatisticsOf(this.#connections(), this.lifetime, nowMs);
  }

  report(initialized: boolean): ConnectionStatsReport {
    const set = this.#set;
    return {
      poolSize: set.size,
      maxPoolSize: this.#limits().max,
      availableConnections: set.idleCount,
      usedConnections: set.leasedCount,
      pendingRequests: this.#pending(),
      openingConnections: set.opening,
      closingConnections: set.closing,
      initialized,
      ...this.poolStatistics(),
      lifetime: structuredClone(this.lifetime),
    };
  }

  /** What an acquire timeout says about who holds the pool. */
  occupancy(): PoolSnapshot {
    const set = this.#set;
    return { used: set.leasedCount, idle: set.idleCount + set.reservedCount, waiting: this.#pending(), max: this.#limits().max };
  }

  /** Pool state for observable metrics, read at collection time. */
  gauges(nowMs = performance.now()): PoolGaugeSnapshot {
    const stats = this.poolStatistics(nowMs);
    const set = this.#set;
    let ageMax = 0;
    let usageMax = 0;
    for (const { metrics } of this.#connections()) {
      ageMax = Math.max(ageMax, (nowMs - metrics.createdAt) / 1000);
      usageMax = Math.max(usageMax, metrics.usageCount);
    }
    const limits = this.#limits();
    return {
      idle: set.idleCount + set.reservedCount,
      used: set.leasedCount,
      pending: this.#pending(),
      max: limits.max,
      idleMax: limits.max,
      idleMin: limits.min,
      byStatus: { healthy: stats.healthyConnections, unhealthy: stats.unhealthyConnections, stale: stats.staleConnections, expired: stats.expiredConnections },
      open: set.size,
      ageSeconds: { max: ageMax, average: stats.averageAge },
      usage: { max: usageMax, average: stats.averageUsage },
    };
  }

  *#connections() {
    for (const entry of this.#set.values()) yield entry.healthy;
  }
}
