import { ConnectionStatus } from './status.js';
import type { HealthyConnection } from './healthy-connection.js';

/** The guide's `get_pool_statistics()`. Ages in seconds. */
export interface PoolStatistics {
  /** Open connections, leased ones included. */
  totalConnections: number;
  healthyConnections: number;
  unhealthyConnections: number;
  staleConnections: number;
  expiredConnections: number;
  /** Passed probes over all probes, over the pool's whole life (1 before the first probe). */
  healthCheckSuccessRate: number;
  /** Average age of the open connections, in seconds. */
  averageAge: number;
  /** Average statements executed per open connection. */
  averageUsage: number;
  /** Statements executed by the pool, including on connections that have since closed. */
  totalUsage: number;
}

/** What a pool remembers of the connections it has closed, so its statistics cover its whole life. */
export interface ClosedConnectionTotals {
  readonly healthChecks: number;
  readonly healthCheckFailures: number;
  readonly closedConnectionUsage: number;
}

/**
 * Statistics of a set of connections, or of a pool when `lifetime` is given: a pool's success
 * rate counts every probe it ever ran, and its usage the statements of closed connections too (no
 * survivorship bias).
 */
export function poolStatisticsOf(connections: Iterable<HealthyConnection>, lifetime?: ClosedConnectionTotals, nowMs = performance.now()): PoolStatistics {
  const counts = { healthy: 0, unhealthy: 0, stale: 0, expired: 0 };
  let n = 0;
  let ageSum = 0;
  let usageSum = 0;
  let checks = 0;
  let failures = 0;
  for (const connection of connections) {
    n++;
    counts[connection.statusAt(nowMs)]++;
    ageSum += (nowMs - connection.metrics.createdAt) / 1000;
    usageSum += connection.metrics.usageCount;
    checks += connection.metrics.healthCheckCount;
    failures += connection.metrics.healthCheckFailures;
  }
  if (lifetime !== undefined) {
    checks = lifetime.healthChecks;
    failures = lifetime.healthCheckFailures;
  }
  return {
    totalConnections: n,
    healthyConnections: counts[ConnectionStatus.HEALTHY],
    unhealthyConnections: counts[ConnectionStatus.UNHEALTHY],
    staleConnections: counts[ConnectionStatus.STALE],
    expiredConnections: counts[ConnectionStatus.EXPIRED],
    healthCheckSuccessRate: checks === 0 ? 1 : (checks - failures) / checks,
    averageAge: n === 0 ? 0 : ageSum / n,
    averageUsage: n === 0 ? 0 : usageSum / n,
    totalUsage: usageSum + (lifetime?.closedConnectionUsage ?? 0),
  };
}
