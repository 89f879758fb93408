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
  /** Who started monitoring (the pool's own manager, and any other the guide's way), each on its own schedule. */
  readonly #owners = new Map<object, { readonly task: string; readonly config: HealthCheckConfig }>();
  /** The last cycle asked for: cycles run one after the other, never over each other. */
  #last: Promise<unknown> = Promise.resolve();
  #tasks = 0;

  constructor(core: PoolCore) {
    this.#core = core;
  }

  start(config: HealthCheckConfig, owner: object): void {
    if (this.#owners.has(owner)) return;
    this.#owners.set(owner, { task: `monitor#${++this.#tasks}`, config });
    this.#arm(owner);
  }

  /** Stops `owner`'s cycles (every owner's without one) and waits for cycles in progress. */
  async stop(owner?: object): Promise<void> {
    for (const [key, { task }] of this.#owners) {
      if (owner !== undefined && key !== owner) continue;
      this.#owners.delete(key);
      this.#core.housekeeper.cancel(task);
    }
    await this.#last;
  }

  /** Runs one cycle after any cycle in progress. */
  runCycle(config: HealthCheckConfig = this.#core.options.healthCheckConfig): Promise<MonitoringCycleResult> {
    const cycle = this.#last.then(() => this.#run(config));
    this.#last = cycle.catch(() => undefined);
    return cycle;
  }

  statistics(): PoolStatistics {
    return this.#core.statistics.poolStatistics();
  }

  #arm(owner: object): void {
    const schedule = this.#owners.get(owner);
    if (schedule === undefined) return;
    this.#core.housekeeper.schedule(schedule.task, schedule.config.intervalMs, () => {
      this.#arm(owner);
      void this.runCycle(schedule.config).catch((error: unknown) => this.#core.options.logger.error('A monitoring cycle failed', error));
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
        core.retirement.retire(entry, entry.healthy.closeReason(status, t), false, trace);
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
      // The cycle's refill is part of the cycle: what it retired is gone (its capacity free), then
      // it opens up to the minimum, and its result holds once those opens are done.
      await core.retirement.settled();
      core.pump.refill(trace);
      await core.opener.settled();
    } finally {
      telemetry?.monitorCycleEnded(trace, result.probed, result.failed, core.observed);
    }
    return result;
  }
}
