/**
 * The guide's examples, run the way a user runs them (`npx tsx examples/<name>.ts`, here as
 * `node --import tsx`, the same loader without the npx wrapper): each exits 0 on its own (no
 * handle or timer left behind) and prints what its sections promise.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startChild, stopAll } from './demo-process.js';

afterEach(stopAll, 20_000);

async function runExample(name: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = startChild(name, process.execPath, ['--import', 'tsx', `examples/${name}.ts`], { env });
  const exit = await child.waitForExit(40_000);
  expect(exit, child.tail()).toEqual({ code: 0, signal: null });
  return { stdout: child.stdout, stderr: child.stderr };
}

describe('examples/advanced_monitoring.ts', () => {
  it('logs, reports statistics and metrics, replaces a broken connection, debugs one, troubleshoots, cleans up', async () => {
    const { stdout, stderr } = await runExample('advanced_monitoring');
    expect(stderr).toBe('');
    // Logging: probes at debug level during initialization, a replacement at warn level.
    expect(stdout).toMatch(/DEBUG Health check passed on conn_1 \(connect\)/);
    // The reporter ran while the monitor worked in the background.
    expect(stdout).toMatch(/\[reporter\] pool \d+\/4, healthy \d+, probes \d+/);
    // The guide's monitor_database_health() fields.
    for (const line of [/^Pool size: \d+\/4$/m, /^Available connections: \d+$/m, /^Healthy connections: \d+$/m, /^Unhealthy connections: 0$/m, /^Success rate: 100\.00%$/m, /^Average age: [\d.]+s$/m, /^Total usage: [1-9]\d*$/m]) {
      expect(stdout).toMatch(line);
    }
    expect(stdout).toMatch(/conn_\d+: status healthy, age [\d.]+s, usage \d+, health checks \d+ \(success 100%\)/);
    expect(stdout).toContain('sqlite_pool.connection.health: healthy=2, unhealthy=0, stale=0, expired=0');
    expect(stdout).toMatch(/db\.client\.connection\.count: idle=2, used=0/);
    const victim = /closed (conn_\d+); its status is now unhealthy/.exec(stdout)?.[1];
    expect(victim, stdout).toBeDefined();
    expect(stdout).toMatch(new RegExp(`WARN\\s+Closed ${victim} \\(error\\)`));
    expect(stdout).toMatch(/replaced: true; closed as broken \(error\): 1; healthy 2\/2 minimum/);
    expect(stdout).toContain('Health check result: true');
    expect(stdout).toMatch(/Connection stats: \{"connectionId":"conn_\d+","status":"healthy"/);
    // Troubleshooting: success rate fine; the one replacement makes young connections count as churn.
    expect(stdout).toContain('Health-check success rate OK (100.0% >= 90%)');
    expect(stdout).toMatch(/Connection churn: average age [\d.]+s < maxAge\/10 \(360s\) with 1 connection\(s\) replaced/);
    expect(stdout).toContain('Unhealthy connections left in the pool: 0');
    expect(stdout).toContain('closed: true, leases forced: 0');
    expect(stdout.trimEnd().endsWith('advanced_monitoring: done')).toBe(true);
  }, 60_000);
});

describe('examples/performance_optimization.ts', () => {
  it('validates the guide settings, measures probes and caching, retries through a lock, troubleshoots', async () => {
    const { stdout, stderr } = await runExample('performance_optimization');
    expect(stderr).toBe('');
    for (const preset of [
      /timeouts\s+localDatabase\s+timeoutMs=500$/m,
      /timeouts\s+remoteDatabase\s+timeoutMs=5000$/m,
      /timeouts\s+highLatency\s+timeoutMs=10000$/m,
      /connection limits\s+highTraffic\s+maxAgeMs=1800000, maxUsage=2000, maxIdleTimeMs=600000$/m,
      /connection limits\s+lowTraffic\s+maxAgeMs=3600000, maxUsage=500, maxIdleTimeMs=300000$/m,
      /monitoring frequency critical\s+intervalMs=15000$/m,
      /monitoring frequency normal\s+intervalMs=30000$/m,
      /monitoring frequency lowPriority\s+intervalMs=120000$/m,
    ]) {
      expect(stdout).toMatch(preset);
    }
    expect(stdout).toContain('Pool: 4 connections, timeoutMs 500, maxUsage 2000, intervalMs 15000');
    // monitor_health_performance(): every connection passed its forced probe.
    expect(stdout).toMatch(/^Health checks completed in [\d.]+s/m);
    expect(stdout).toMatch(/^Success rate: 4\/4$/m);
    // Every strategy passes on a healthy database.
    for (const strategy of ['quick (SELECT 1)', 'table validation', 'write validation', 'integrity check']) {
      expect(stdout).toMatch(new RegExp(`${strategy.replace(/[()]/g, '\\$&')}\\s+[\\d.]+ µs/probe, 400/400 passed`));
    }
    expect(stdout).toMatch(/forced validateHealth\(\): [\d.]+ µs; cached \(within cacheDurationMs=5000 ms\): [\d.]+ µs/);
    expect(stdout).toMatch(/health checks on, no cache \(probe per borrow\)\s+[\d,]+ reads\/s, [1-9]\d* probes/);
    expect(stdout).toMatch(/health checks off\s+[\d,]+ reads\/s, 0 probes/);
    // The retry loop met the lock, backed off, and got through once it was released.
    expect(stdout).toContain('Database operation failed (attempt 1): SQLITE_BUSY');
    expect(stdout).toContain('(the other connection released its lock)');
    expect(stdout).toContain('the update succeeded after retrying: 1 row changed');
    expect(stdout).not.toContain('ERROR');
    expect(stdout).toMatch(/Health-check success rate OK: 100\.0% over \d+ probes/);
    expect(stdout.trimEnd().endsWith('performance_optimization: done')).toBe(true);
  }, 60_000);
});
