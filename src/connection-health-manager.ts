import { setImmediate as nextTurn } from 'node:timers/promises';
import { HealthCheckConfig, type HealthCheckOptions } from './config.js';
import { ConnectionStatus, type HealthyConnection } from './healthy-connection.js';
import { telemetryRegistry } from './telemetry/pool-telemetry.js';
import type { DatabaseManager } from './database-manager.js';

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

/** What one monitoring cycle did. */
export interface MonitoringCycleResult {
  retired: number;
  probed: number;
  failed: number;
}

let managerCount = 0;

/**
 * Periodic health monitoring (the guide's `ConnectionHealthManager`): every `intervalMs` it
 * retires idle connections that are expired, stale or unhealthy, probes the rest in batches of
 * `batchSize` (each reserved while it is probed, so no caller can borrow it mid-probe), replaces
 * what fails and refills the pool to `minHealthyConnections`.
 */
export class ConnectionHealthManager {
  readonly config: HealthCheckConfig;
  #pool: DatabaseManager | undefined;
  #cycle: Promise<MonitoringCycleResult> | undefined;
  /** This manager's task on the pool's housekeeper: a second manager must not replace the pool's own. */
  readonly #task = `health-monitor#${++managerCount}`;

  constructor(config?: HealthCheckConfig | HealthCheckOptions) {
    this.config = HealthCheckConfig.from(config);
  }

  get monitoring(): boolean {
    return this.#pool !== undefined;
  }

  /** Starts periodic monitoring of `pool`; the first cycle runs after `intervalMs`. */
  async startMonitoring(pool: DatabaseManager): Promise<void> {
    if (this.#pool === pool) return;
    if (this.#pool !== undefined) await this.stopMonitoring();
    this.#pool = pool;
    this.#scheduleNext();
  }

  /** Stops monitoring and waits for a cycle in progress to finish. */
  async stopMonitoring(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    pool?.cancelMaintenance(this.#task);
    await this.#cycle;
  }

  /** Runs one monitoring cycle now (also what the timer runs). */
  async runCycle(pool: DatabaseManager | undefined = this.#pool): Promise<MonitoringCycleResult> {
    if (pool === undefined) return { retired: 0, probed: 0, failed: 0 };
    const cycle = this.#runCycle(pool);
    this.#cycle = cycle;
    try {
      return await cycle;
    } finally {
      if (this.#cycle === cycle) this.#cycle = undefined;
    }
  }

  /** The guide's pool statistics, for a pool or any set of connections. */
  getPoolStatistics(pool: DatabaseManager | Iterable<HealthyConnection>): PoolStatistics {
    const connections = isPool(pool) ? [...pool.connections()] : [...pool];
    const counts = { healthy: 0, unhealthy: 0, stale: 0, expired: 0 };
    let ageSum = 0;
    let usageSum = 0;
    let checks = 0;
    let failures = 0;
    for (const connection of connections) {
      counts[connection.status]++;
      ageSum += connection.ageMs / 1000;
      usageSum += connection.metrics.usageCount;
      checks += connection.metrics.healthCheckCount;
      failures += connection.metrics.healthCheckFailures;
    }
    let totalUsage = usageSum;
    if (isPool(pool)) {
      // Whole-life counters: connections that closed still count (no survivorship bias).
      const lifetime = pool.lifetimeCounters;
      checks = lifetime.healthChecks;
      failures = lifetime.healthCheckFailures;
      totalUsage += lifetime.closedConnectionUsage;
    }
    const n = connections.length;
    return {
      totalConnections: n,
      healthyConnections: counts[ConnectionStatus.HEALTHY],
      unhealthyConnections: counts[ConnectionStatus.UNHEALTHY],
      staleConnections: counts[ConnectionStatus.STALE],
      expiredConnections: counts[ConnectionStatus.EXPIRED],
      healthCheckSuccessRate: checks === 0 ? 1 : (checks - failures) / checks,
      averageAge: n === 0 ? 0 : ageSum / n,
      averageUsage: n === 0 ? 0 : usageSum / n,
      totalUsage,
    };
  }

  #scheduleNext(): void {
    const pool = this.#pool;
    if (pool === undefined) return;
    pool.scheduleMaintenance(this.#task, this.config.intervalMs, () => {
      void this.runCycle(pool).finally(() => {
        if (this.#pool === pool) this.#scheduleNext();
      });
    });
  }

  async #runCycle(pool: DatabaseManager): Promise<MonitoringCycleResult> {
    const telemetry = telemetryRegistry.active;
    const trace = telemetry?.monitorCycleStarted(pool);
    const result: MonitoringCycleResult = { retired: pool.retireIdle(), probed: 0, failed: 0 };
    if (this.config.enabled) {
      const idle = pool.idleConnections();
      for (let start = 0; start < idle.length; start += this.config.batchSize) {
        // In worker mode the probes of a batch run in parallel, each in its connection's process.
        // eslint-disable-next-line @typescript-eslint/await-thenable -- thread mode answers at once, worker mode with promises
        const probes = await Promise.all(idle.slice(start, start + this.config.batchSize).map((pooled) => pool.probeIdle(pooled, trace)));
        for (const probe of probes) {
          if (probe === undefined) continue;
          result.probed++;
          if (!probe.passed) result.failed++;
        }
        // Let callers in between batches: probes are synchronous in the default mode.
        if (start + this.config.batchSize < idle.length) await nextTurn();
      }
    }
    pool.refill(trace);
    telemetryRegistry.active?.monitorCycleEnded(trace, result.probed, result.failed);
    return result;
  }
}

function isPool(value: unknown): value is DatabaseManager {
  return typeof value === 'object' && value !== null && 'lifetimeCounters' in value && 'connections' in value;
}
