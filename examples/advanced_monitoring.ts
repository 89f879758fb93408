/**
 * Advanced monitoring (the health-checking guide's "Monitoring and Metrics", "Logging and Alerts",
 * "Debugging Health Checks" and "Troubleshooting" sections), in TypeScript.
 *
 *   npx tsx examples/advanced_monitoring.ts
 *
 * Runs on a temporary database and exits 0. It shows:
 *   1. logging: the pool's probes at debug level, failures and replacements at warn level;
 *   2. the pool statistics (`getConnectionStats()`) and per-connection statistics (`getStats()`),
 *      printed by a reporter while a workload runs and the health monitor works in the background;
 *   3. the same numbers as OpenTelemetry metrics (what Prometheus and Grafana get);
 *   4. a connection broken behind the pool's back, found by the monitor and replaced;
 *   5. debugging one connection: `findConnection()` + `validateHealth({ force: true })`;
 *   6. the guide's troubleshooting checks: success rate below 0.9, average age below maxAge / 10;
 *   7. cleanup: `close()` stops monitoring and closes every connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeterProvider, MetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import {
  ConnectionStatus,
  DatabaseManager,
  HealthCheckConfig,
  SqlitePoolInstrumentation,
  type ConnectionStatsReport,
  type Logger,
} from '../src/index.js';

// --- 1. Logging ------------------------------------------------------------------------------
// The guide sets the health-check logger to DEBUG and the database logger to WARNING. The pool
// takes any logger with debug/info/warn/error (console, pino, winston); this one adds a level.
type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Level[] = ['debug', 'info', 'warn', 'error'];

function createLogger(name: string, level: Level): Logger & { level: Level } {
  const logger = {
    level,
    debug: (message: string) => write('debug', message),
    info: (message: string) => write('info', message),
    warn: (message: string) => write('warn', message),
    error: (message: string) => write('error', message),
  };
  function write(at: Level, message: string): void {
    if (LEVELS.indexOf(at) >= LEVELS.indexOf(logger.level)) console.log(`  [${name}] ${at.toUpperCase().padEnd(5)} ${message}`);
  }
  return logger;
}

const poolLogger = createLogger('otel_sqlite_pool.connection_health', 'debug');

// --- 3. Metrics: a reader we can collect on demand (Prometheus's exporter is one too) ----------
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function readGauges(reader: MetricReader): Promise<Map<string, { attributes: Record<string, unknown>; value: unknown }[]>> {
  const { resourceMetrics } = await reader.collect();
  const result = new Map<string, { attributes: Record<string, unknown>; value: unknown }[]>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const points = metric.dataPoints as DataPoint<unknown>[];
      result.set(metric.descriptor.name, points.map((p) => ({ attributes: p.attributes, value: p.value })));
    }
  }
  return result;
}

// --- 2. The guide's monitor_database_health() ---------------------------------------------------
async function monitorDatabaseHealth(db: DatabaseManager): Promise<ConnectionStatsReport> {
  const stats = await db.getConnectionStats();
  // Basic pool metrics
  console.log(`Pool size: ${stats.poolSize}/${stats.maxPoolSize}`);
  console.log(`Available connections: ${stats.availableConnections}`);
  // Health metrics
  console.log(`Healthy connections: ${stats.healthyConnections}`);
  console.log(`Unhealthy connections: ${stats.unhealthyConnections}`);
  console.log(`Success rate: ${(stats.healthCheckSuccessRate * 100).toFixed(2)}%`);
  console.log(`Average age: ${stats.averageAge.toFixed(1)}s`);
  console.log(`Total usage: ${stats.totalUsage}`);
  return stats;
}

function printConnectionStats(db: DatabaseManager): void {
  for (const connection of db.connections()) {
    const s = connection.getStats();
    console.log(
      `  ${s.connectionId}: status ${s.status}, age ${s.ageSeconds.toFixed(1)}s, usage ${s.usageCount}, ` +
        `health checks ${s.healthCheckCount} (success ${(s.healthCheckSuccessRate * 100).toFixed(0)}%), ` +
        `avg query ${(s.averageQueryTime * 1e6).toFixed(1)} µs`,
    );
  }
}

// --- 6. The guide's troubleshooting checks -------------------------------------------------------
function troubleshoot(stats: ConnectionStatsReport, config: HealthCheckConfig): string[] {
  const findings: string[] = [];
  // High health check failure rate
  if (stats.healthCheckSuccessRate < 0.9) {
    config.timeoutMs = 5000; // the guide's first remedy: increase the timeout
    findings.push(
      `High health-check failure rate (${(stats.healthCheckSuccessRate * 100).toFixed(1)}% < 90%): raised timeoutMs to 5000; ` +
        'check database load, access to the database file and the health-check query',
    );
  } else {
    findings.push(`Health-check success rate OK (${(stats.healthCheckSuccessRate * 100).toFixed(1)}% >= 90%)`);
  }
  // Excessive connection creation/destruction: young connections only matter while connections
  // are being replaced (a pool that just started is young too).
  const churnLimit = config.maxAgeMs / 1000 / 10;
  const replaced = stats.lifetime.closed.unhealthy + stats.lifetime.closed.error + stats.lifetime.closed.max_usage + stats.lifetime.closed.max_age;
  if (stats.averageAge < churnLimit && replaced > 0) {
    findings.push(
      `Connection churn: average age ${stats.averageAge.toFixed(1)}s < maxAge/10 (${churnLimit}s) with ${replaced} connection(s) replaced: ` +
        'investigate health-check issues, review the connection limits, check for database connectivity problems',
    );
  } else {
    findings.push(`No connection churn (average age ${stats.averageAge.toFixed(1)}s, ${replaced} replaced)`);
  }
  return findings;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'otel-sqlite-pool-advanced-monitoring-'));
  const reader = new OnDemandReader();
  const metricsProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = new SqlitePoolInstrumentation({ meterProvider: metricsProvider });
  try {
    const config = new HealthCheckConfig({
      enabled: true,
      timeoutMs: 500, // local database (the guide: 0.5 s)
      intervalMs: 200, // short for the example; the guide uses 15-120 s
      maxAgeMs: 3_600_000,
      maxUsage: 2000, // high traffic (the guide: 2000)
      minHealthyConnections: 2,
      batchSize: 5,
    });
    const db = new DatabaseManager({
      databaseUrl: `sqlite:///${join(dir, 'monitoring.db')}`,
      poolSize: 4,
      healthCheckConfig: config,
      poolName: 'monitoring-example',
      logger: poolLogger,
    });

    console.log('== Initialize (probes are logged at debug level) ==');
    await db.initialize();
    await db.exec('CREATE TABLE trades (id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, qty INTEGER NOT NULL)');
    // From here on, only warnings: the monitor probes every 200 ms.
    poolLogger.level = 'warn';

    console.log('\n== Workload with a periodic reporter ==');
    let written = 0;
    const reportPool = (): void => {
      const s = db.getConnectionStatsSync();
      console.log(`  [reporter] pool ${s.poolSize}/${s.maxPoolSize}, healthy ${s.healthyConnections}, probes ${s.lifetime.healthChecks}, usage ${s.totalUsage}`);
    };
    reportPool();
    const reporter = setInterval(reportPool, 250);
    // 30 rounds of a 20-row write transaction and a read, ~20 ms apart: the monitor probes in between.
    for (let round = 0; round < 30; round++) {
      await db.transaction(async (lease) => {
        for (let i = 0; i < 20; i++) await lease.run('INSERT INTO trades (symbol, qty) VALUES (?, ?)', [['AAPL', 'MSFT', 'NVDA'][i % 3], i + 1]);
      });
      written += 20;
      await db.get('SELECT COUNT(*) AS n, SUM(qty) AS qty FROM trades');
      await sleep(20);
    }
    clearInterval(reporter);
    console.log(`  wrote ${written} trades`);

    console.log('\n== Pool statistics (the guide\'s monitor_database_health) ==');
    const stats = await monitorDatabaseHealth(db);
    console.log('\n== Individual connection statistics ==');
    printConnectionStats(db);

    console.log('\n== The same numbers as OpenTelemetry metrics ==');
    const gauges = await readGauges(reader);
    for (const name of ['sqlite_pool.connection.health', 'db.client.connection.count']) {
      const points = (gauges.get(name) ?? []).map((p) => `${String(Object.values(p.attributes).at(-1))}=${String(p.value)}`);
      console.log(`  ${name}: ${points.join(', ')}`);
    }

    console.log('\n== A connection closed behind the pool\'s back ==');
    const victim = [...db.connections()][0];
    if (victim === undefined) throw new Error('the pool has no connection');
    victim.connection.close();
    console.log(`  closed ${victim.connectionId}; its status is now ${victim.status}`);
    // The monitor (every 200 ms) finds it; a real service would not wait, this example wants to see it.
    const deadline = performance.now() + 5000;
    while ([...db.connections()].includes(victim) && performance.now() < deadline) await sleep(50);
    const replacedStats = db.getConnectionStatsSync();
    console.log(
      `  replaced: ${![...db.connections()].includes(victim)}; closed as broken (error): ${replacedStats.lifetime.closed.error}; ` +
        `healthy ${replacedStats.healthyConnections}/${config.minHealthyConnections} minimum`,
    );

    console.log('\n== Debugging one connection (the guide\'s debug_connection_health) ==');
    await db.withConnection(async (conn) => {
      const healthy = db.findConnection(conn);
      if (healthy === undefined) throw new Error('a leased connection must belong to the pool');
      const result = await healthy.validateHealth({ force: true });
      console.log(`Health check result: ${result}`);
      console.log(`Connection stats: ${JSON.stringify(healthy.getStats())}`);
    });

    console.log('\n== Troubleshooting checks ==');
    for (const finding of troubleshoot(await db.getConnectionStats(), config)) console.log(`  ${finding}`);
    const unhealthy = [...db.connections()].filter((c) => c.status === ConnectionStatus.UNHEALTHY).length;
    console.log(`  Unhealthy connections left in the pool: ${unhealthy}`);

    console.log('\n== Cleanup ==');
    const report = await db.close(); // stops monitoring and closes connections
    console.log(`  closed: ${db.closed}, leases forced: ${report.forcedLeases.length}, statements run: ${stats.totalUsage}`);
  } finally {
    instrumentation.disable();
    await metricsProvider.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('advanced_monitoring: done');
}

await main();
