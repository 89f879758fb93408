import { setImmediate as nextTurn } from 'node:timers/promises';
import { now } from '../clock.js';
import type { HealthCheckConfig } from '../config/health-check-config.js';
import type { MonitoringCycleResult, PoolMonitoring } from '../health/connection-health-manager.js';
import type { PoolStatistics } from '../health/pool-statistics.js';
import { ConnectionStatus } from '../health/status.js';
import { telemetryRegistry } from '../telemetry/pool-telemetry.js';
import type { PoolCore } from './pool-core.js';

/**
 * The pool's monitoring (what the guide's `ConnectionHealthManager` switches on): every
 * `intervalMs` a cycle retires idle connections that are expired, stale or unhealthy, probes the
 * other idle ones in batches of `batchSize` (each reserved while it is probed, so no caller can
 * borrow it mid-probe), replaces what fails and refills to `minHealthyConnections`. Cycles run
 * from the pool's housekeeper; the next one is armed before a cycle starts, so a cycle that
 * throws never ends monitoring.
 */
export class Maintenance implements PoolMonitoring {
  readonly #core: PoolCore;
  #owner: object | undefined;
  #config: HealthCheckConfig | undefined;
  #cycle: Promise<MonitoringCycleResult> | undefined;

  constructor(core: PoolCore) {
    this.#core = core;
  }

  start(config: HealthCheckConfig, owner: object): void {
    this.#owner = owner;
    this.#config = config;
    this.#arm();
  }

  async stop(owner?: object): Promise<void> {
    if (owner !== undefined && owner !== this.#owner) return;
    this.#owner = undefined;
    this.#core.housekeeper.cancel('monitor');
    await this.#cycle?.catch(() => undefined);
  }

  /** Runs one cycle now; a cycle asked for while one runs shares it. */
  runCycle(config: HealthCheckConfig = this.#config ?? this.#core.options.healthCheckConfig): Promise<MonitoringCycleResult> {
    this.#cycle ??= this.#run(config).finally(() => (this.#cycle = undefined));
    return this.#cycle;
  }

  statistics(): PoolStatistics {
    return this.#core.statistics.poolStatistics();
  }

  #arm(): void {
    const config = this.#config;
    if (this.#owner === undefined || config === undefined) return;
    this.#core.housekeeper.schedule('monitor', config.intervalMs, () => {
      this.#arm();
      void this.runCycle(config);
    });
  }

  async #run(config: HealthCheckConfig): Promise<MonitoringCycleResult> {
    const core = this.#core;
    const result: MonitoringCycleResult = { retired: 0, probed: 0, failed: 0 };
    if (!core.lending) return result;
    const telemetry = telemetryRegistry.active;
    const trace = telemetry?.monitorCycleStarted(core.observed);
    try {
      const t = now();
      for (const entry of core.set.idleSnapshot()) {
        const status = entry.healthy.statusAt(t);
        if (status === ConnectionStatus.HEALTHY) continue;
        core.retirement.retire(entry, entry.healthy.closeReason(status, t));
        result.retired++;
      }
      if (config.enabled) {
        const idle = core.set.idleSnapshot();
        for (let start = 0; start < idle.length; start += config.batchSize) {
          const batch = idle.slice(start, start + config.batchSize).filter((entry) => entry.state === 'idle' && core.lending);
          // Worker mode: the probes of a batch run at once, each in its connection's process.
          const probes = await Promise.all(batch.map((entry) => core.probeReserved(entry, trace)));
          result.probed += probes.length;
          result.failed += probes.filter((probe) => !probe.passed).length;
          // Let callers in between batches: in-thread probes are synchronous.
          if (start + config.batchSize < idle.length) await nextTurn();
        }
      }
      core.pump.run();
    } finally {
      telemetry?.monitorCycleEnded(trace, result.probed, result.failed);
    }
    return result;
  }
}
