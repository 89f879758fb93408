import { HealthCheckConfig, type HealthCheckOptions } from '../config/health-check-config.js';
import type { HealthyConnection } from './healthy-connection.js';
import { poolStatisticsOf, type PoolStatistics } from './pool-statistics.js';

export type { PoolStatistics } from './pool-statistics.js';

/** What one monitoring cycle did. */
export interface MonitoringCycleResult {
  retired: number;
  probed: number;
  failed: number;
}

/**
 * A pool's own monitoring, as the guide's manager drives it. Monitoring is the pool's task (its
 * housekeeper runs the cycles); the manager only switches it on and off and reads statistics.
 */
export interface PoolMonitoring {
  /** Runs a cycle every `config.intervalMs` (read at each cycle), probing `config.batchSize` at a time. */
  start(config: HealthCheckConfig, owner: object): void;
  /** Stops the cycles started by `owner` and waits for a cycle in progress. */
  stop(owner: object): Promise<void>;
  runCycle(config?: HealthCheckConfig): Promise<MonitoringCycleResult>;
  statistics(): PoolStatistics;
}

/** Anything with a pool's monitoring: `DatabaseManager`. */
export interface MonitoredPool {
  readonly monitoring: PoolMonitoring;
}

function isMonitoredPool(value: unknown): value is MonitoredPool {
  return typeof value === 'object' && value !== null && 'monitoring' in value;
}

/**
 * Periodic health monitoring (the guide's `ConnectionHealthManager`): every `intervalMs` the
 * pool retires idle connections that are expired, stale or unhealthy, probes the rest in batches
 * of `batchSize` (each reserved while it is probed, so no caller can borrow it mid-probe),
 * replaces what fails and refills to `minHealthyConnections`.
 */
export class ConnectionHealthManager {
  readonly config: HealthCheckConfig;
  #pool: MonitoredPool | undefined;

  constructor(config?: HealthCheckConfig | HealthCheckOptions) {
    this.config = HealthCheckConfig.from(config);
  }

  get monitoring(): boolean {
    return this.#pool !== undefined;
  }

  /** Starts periodic monitoring of `pool`; the first cycle runs after `intervalMs`. */
  async startMonitoring(pool: MonitoredPool): Promise<void> {
    if (this.#pool === pool) return;
    if (this.#pool !== undefined) await this.stopMonitoring();
    this.#pool = pool;
    pool.monitoring.start(this.config, this);
  }

  /** Stops monitoring and waits for a cycle in progress to finish. */
  async stopMonitoring(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.monitoring.stop(this);
  }

  /** Runs one monitoring cycle now. */
  async runCycle(pool: MonitoredPool | undefined = this.#pool): Promise<MonitoringCycleResult> {
    return pool === undefined ? { retired: 0, probed: 0, failed: 0 } : pool.monitoring.runCycle(this.config);
  }

  /** The guide's pool statistics, for a pool or any set of connections. */
  getPoolStatistics(pool: MonitoredPool | Iterable<HealthyConnection>): PoolStatistics {
    return isMonitoredPool(pool) ? pool.monitoring.statistics() : poolStatisticsOf(pool);
  }
}
