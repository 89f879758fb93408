/**
 * Performance tuning (the health-checking guide's "Best Practices", "Health Check Strategies",
 * "Performance Considerations" and "Performance Monitoring" sections), in TypeScript.
 *
 *   npx tsx examples/performance_optimization.ts
 *
 * Runs on a temporary database in a few seconds and exits 0. It shows:
 *   1. the guide's settings: timeouts (local / remote / high latency), connection limits (high /
 *      low traffic) and monitoring frequency (critical / normal / low priority), validated;
 *   2. the guide's monitor_health_performance(): forced probes over every pooled connection;
 *   3. what each health-check strategy costs per probe (SELECT 1, table, write, integrity);
 *   4. why probe results are cached: a cached validateHealth() against a forced one, and the
 *      throughput of a read workload with caching, without caching, and without health checks;
 *   5. the guide's robust_database_operation(): retries with exponential backoff through a lock;
 *   6. the troubleshooting checks on the final statistics.
 * Timings depend on the machine; the example prints them and asserts nothing about them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { DatabaseManager, HealthCheckConfig, errorType, type HealthCheckOptions, type Logger } from '../src/index.js';

// --- Logging: warnings only, as the guide configures its database logger ------------------------
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => console.log(`  [database] WARN  ${message}`),
  error: (message) => console.log(`  [database] ERROR ${message}`),
};

// --- 1. The guide's best-practice settings -------------------------------------------------------
/** 1. Configure appropriate timeouts. */
const TIMEOUTS = {
  localDatabase: { timeoutMs: 500 },
  remoteDatabase: { timeoutMs: 5000 },
  highLatency: { timeoutMs: 10_000 },
} satisfies Record<string, HealthCheckOptions>;

/** 2. Set reasonable connection limits. */
const CONNECTION_LIMITS = {
  highTraffic: { maxAgeMs: 1_800_000, maxUsage: 2000, maxIdleTimeMs: 600_000 }, // 30 min, 2000 uses, 10 min idle
  lowTraffic: { maxAgeMs: 3_600_000, maxUsage: 500, maxIdleTimeMs: 300_000 }, // 1 h, 500 uses, 5 min idle
} satisfies Record<string, HealthCheckOptions>;

/** 3. Adjust monitoring frequency. */
const MONITORING_FREQUENCY = {
  critical: { intervalMs: 15_000 },
  normal: { intervalMs: 30_000 },
  lowPriority: { intervalMs: 120_000 },
} satisfies Record<string, HealthCheckOptions>;

/** The guide's health-check strategies, cheapest first. */
const STRATEGIES = {
  'quick (SELECT 1)': 'SELECT 1',
  'table validation': 'SELECT COUNT(*) FROM sqlite_master LIMIT 1',
  'write validation': 'CREATE TEMP TABLE health_check (id INTEGER); DROP TABLE health_check;',
  'integrity check': 'PRAGMA integrity_check(1)',
};

function printSettings(): void {
  console.log('== 1. Best-practice settings (each validated by HealthCheckConfig) ==');
  const groups: Record<string, Record<string, HealthCheckOptions>> = { timeouts: TIMEOUTS, 'connection limits': CONNECTION_LIMITS, 'monitoring frequency': MONITORING_FREQUENCY };
  for (const [group, presets] of Object.entries(groups)) {
    for (const [name, options] of Object.entries(presets)) {
      const config = new HealthCheckConfig(options); // throws ConfigurationError on a bad value
      const shown = Object.keys(options).map((key) => `${key}=${String(config.toJSON()[key as keyof HealthCheckOptions])}`);
      console.log(`  ${group.padEnd(20)} ${name.padEnd(15)} ${shown.join(', ')}`);
    }
  }
}

// --- 2. The guide's monitor_health_performance() ------------------------------------------------
async function monitorHealthPerformance(db: DatabaseManager): Promise<{ durationMs: number; passed: number; total: number }> {
  const startedAt = performance.now();
  // Perform health checks
  const results = await Promise.all([...db.connections()].map((connection) => connection.validateHealth({ force: true })));
  const durationMs = performance.now() - startedAt;
  const passed = results.filter(Boolean).length;
  console.log(`Health checks completed in ${(durationMs / 1000).toFixed(3)}s (${durationMs.toFixed(3)} ms)`);
  console.log(`Success rate: ${passed}/${results.length}`);
  return { durationMs, passed, total: results.length };
}

// --- 3. Strategy costs ----------------------------------------------------------------------------
async function compareStrategies(db: DatabaseManager): Promise<void> {
  console.log('\n== 3. Health-check strategies: cost per forced probe ==');
  const config = db.healthCheckConfig;
  const original = config.query;
  const connections = [...db.connections()];
  for (const [name, query] of Object.entries(STRATEGIES)) {
    config.query = query; // takes effect at the next probe
    const rounds = 100;
    let passed = 0;
    const startedAt = performance.now();
    for (let i = 0; i < rounds; i++) {
      for (const connection of connections) if (await connection.validateHealth({ force: true })) passed++;
    }
    const probes = rounds * connections.length;
    const perProbeUs = ((performance.now() - startedAt) * 1000) / probes;
    console.log(`  ${name.padEnd(18)} ${perProbeUs.toFixed(1).padStart(8)} µs/probe, ${passed}/${probes} passed   (${query})`);
  }
  config.query = original;
}

// --- 4. Caching ------------------------------------------------------------------------------------
async function measureCaching(db: DatabaseManager): Promise<void> {
  console.log('\n== 4. Cached probe results ==');
  const connection = [...db.connections()][0];
  if (connection === undefined) throw new Error('the pool has no connection');
  const time = async (n: number, force: boolean): Promise<number> => {
    const startedAt = performance.now();
    for (let i = 0; i < n; i++) await connection.validateHealth({ force });
    return ((performance.now() - startedAt) * 1000) / n;
  };
  const forced = await time(2000, true);
  const cached = await time(2000, false);
  console.log(`  forced validateHealth(): ${forced.toFixed(2)} µs; cached (within cacheDurationMs=${db.healthCheckConfig.cacheDurationMs} ms): ${cached.toFixed(2)} µs`);

  const config = db.healthCheckConfig;
  const run = async (label: string): Promise<void> => {
    const probesBefore = db.getConnectionStatsSync().lifetime.healthChecks;
    const until = performance.now() + 300;
    let reads = 0;
    while (performance.now() < until) {
      for (let i = 0; i < 200; i++) await db.get('SELECT id, name FROM accounts WHERE id = ?', [1 + (reads++ % 500)]);
    }
    const probes = db.getConnectionStatsSync().lifetime.healthChecks - probesBefore;
    console.log(`  ${label.padEnd(40)} ${Math.round(reads / 0.3).toLocaleString('en-US').padStart(9)} reads/s, ${probes} probes`);
  };
  await run(`health checks on, cache ${config.cacheDurationMs} ms (default)`);
  const cacheDurationMs = config.cacheDurationMs;
  config.cacheDurationMs = 0; // probe at every borrow
  await run('health checks on, no cache (probe per borrow)');
  config.cacheDurationMs = cacheDurationMs;
  config.enabled = false;
  await run('health checks off');
  config.enabled = true;
}

// --- 5. The guide's robust_database_operation() ----------------------------------------------------
async function robustDatabaseOperation<T>(operation: () => Promise<T>, maxRetries = 3, retryDelayMs = 50): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const message = `${errorType(error)}: ${error instanceof Error ? error.message : String(error)}`;
      if (attempt < maxRetries - 1) {
        logger.warn(`Database operation failed (attempt ${attempt + 1}): ${message}`);
        await sleep(retryDelayMs * 2 ** attempt);
      } else {
        logger.error(`Database operation failed after ${maxRetries} attempts: ${message}`);
        throw error;
      }
    }
  }
}

async function retryThroughALock(db: DatabaseManager, filename: string): Promise<void> {
  console.log('\n== 5. Retries with exponential backoff through a lock held elsewhere ==');
  // Another process holds the write lock for 120 ms; statements wait only busyTimeoutMs (20 ms).
  const other = new Database(filename, { fileMustExist: true });
  other.exec('BEGIN EXCLUSIVE');
  const release = setTimeout(() => {
    other.exec('ROLLBACK');
    other.close();
    console.log('  (the other connection released its lock)');
  }, 120);
  try {
    const result = await robustDatabaseOperation(() => db.run('UPDATE accounts SET balance = balance + 1 WHERE id = ?', [1]), 4, 50);
    console.log(`  the update succeeded after retrying: ${result.changes} row changed`);
  } finally {
    clearTimeout(release);
    if (other.open) other.close();
  }
}

// --- 6. Troubleshooting ----------------------------------------------------------------------------
async function troubleshoot(db: DatabaseManager): Promise<void> {
  console.log('\n== 6. Troubleshooting checks ==');
  const stats = await db.getConnectionStats();
  const config = db.healthCheckConfig;
  if (stats.healthCheckSuccessRate < 0.9) {
    config.timeoutMs = 5000; // the guide: increase the timeout, then check load, connectivity, the query
    console.log(`  High health-check failure rate (${(stats.healthCheckSuccessRate * 100).toFixed(1)}%): timeout raised to 5 s`);
  } else {
    console.log(`  Health-check success rate OK: ${(stats.healthCheckSuccessRate * 100).toFixed(1)}% over ${stats.lifetime.healthChecks} probes`);
  }
  const closed = stats.lifetime.closed;
  const byLimits = closed.max_usage + closed.max_age;
  const byFailures = closed.unhealthy + closed.error;
  const replaced = byLimits + byFailures;
  if (stats.averageAge < config.maxAgeMs / 1000 / 10 && replaced > 0) {
    console.log(`  Connection churn: average age ${stats.averageAge.toFixed(1)}s < maxAge/10 (${config.maxAgeMs / 10_000}s); replaced: ` +
      `${closed.max_usage} for max_usage, ${closed.max_age} for max_age, ${byFailures} unhealthy or failed`);
    if (byLimits > byFailures) {
      console.log(`    -> the limits retire connections, not failures: maxUsage=${config.maxUsage} statements go by in milliseconds at ` +
        'the read rates above. Review the connection limits: a high-throughput SQLite pool can raise maxUsage a lot (or set it to Infinity).');
    } else {
      console.log('    -> investigate the health-check failures and check for database connectivity problems.');
    }
  } else {
    console.log(`  No connection churn: average age ${stats.averageAge.toFixed(1)}s, ${replaced} connection(s) replaced`);
  }
}

async function main(): Promise<void> {
  printSettings();
  const dir = mkdtempSync(join(tmpdir(), 'otel-sqlite-pool-performance-'));
  const filename = join(dir, 'performance.db');
  // A local, high-traffic, critical service: the three presets combined.
  const config = new HealthCheckConfig({
    ...TIMEOUTS.localDatabase,
    ...CONNECTION_LIMITS.highTraffic,
    ...MONITORING_FREQUENCY.critical,
    minHealthyConnections: 4,
  });
  const db = new DatabaseManager({ filename, poolSize: 4, healthCheckConfig: config, busyTimeoutMs: 20, logger });
  try {
    await db.initialize();
    await db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL DEFAULT 0)');
    await db.transaction(async (lease) => {
      for (let id = 1; id <= 500; id++) await lease.run('INSERT INTO accounts (id, name) VALUES (?, ?)', [id, `account ${id}`]);
    });
    console.log(`\nPool: ${db.getConnectionStatsSync().poolSize} connections, timeoutMs ${config.timeoutMs}, maxUsage ${config.maxUsage}, intervalMs ${config.intervalMs}`);

    console.log('\n== 2. Health check performance (the guide\'s monitor_health_performance) ==');
    const { passed, total } = await monitorHealthPerformance(db);
    if (passed !== total) throw new Error(`${total - passed} connection(s) failed their probe`);

    await compareStrategies(db);
    await measureCaching(db);
    await retryThroughALock(db, filename);
    await troubleshoot(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('performance_optimization: done');
}

await main();
