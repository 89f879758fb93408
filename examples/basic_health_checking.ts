/**
 * Basic health checking (the guide's "Key Components", "Configuration Options" and "Monitoring
 * and Metrics" sections), in TypeScript.
 *
 *   npx tsx examples/basic_health_checking.ts
 *
 * Runs on a temporary database file and exits 0. It shows:
 *   1. wrapping an existing better-sqlite3 connection in a HealthyConnection and validating it;
 *   2. a DatabaseManager with a HealthCheckConfig: initialize, lease a connection, run queries;
 *   3. the guide's DatabaseSettings read from environment variables (in seconds);
 *   4. the pool statistics (get_connection_stats) and one connection's stats (get_stats);
 *   5. a ConnectionHealthManager started on the pool, and its pool statistics;
 *   6. the guide's retry pattern for a failing operation;
 *   7. cleanup: close() stops monitoring and closes every connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  ConnectionHealthManager,
  DatabaseManager,
  HealthCheckConfig,
  HealthyConnection,
  databaseSettingsFromEnv,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'basic-health-checking-'));
const file = join(dir, 'app.db');
const percent = (rate: number): string => `${(rate * 100).toFixed(2)}%`;

try {
  // --- 1. HealthyConnection around an existing connection ------------------------------------
  console.log('== 1. HealthyConnection');
  const config = new HealthCheckConfig({
    enabled: true,
    timeoutMs: 1000, // timeout=1.0
    maxAgeMs: 3_600_000, // max_age=3600 (1 hour)
    maxUsage: 1000,
  });
  const rawConnection = new Database(file);
  rawConnection.pragma('journal_mode = WAL');
  rawConnection.exec('CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  rawConnection.prepare('INSERT INTO users (name) VALUES (?), (?)').run('ada', 'grace');
  const healthyConn = new HealthyConnection({ connection: rawConnection, config, connectionId: 'conn_1' });
  const isHealthy = await healthyConn.validateHealth();
  console.log(`validateHealth(): ${isHealthy}`);
  if (isHealthy) {
    // Use the connection safely.
    const users = healthyConn.connection.prepare('SELECT * FROM users ORDER BY id').all();
    console.log(`users: ${JSON.stringify(users)}`);
  }
  console.log(`status: ${healthyConn.status}, isExpired: ${healthyConn.isExpired}, isStale: ${healthyConn.isStale}`);
  await healthyConn.close();

  // --- 2. DatabaseManager with health checking -----------------------------------------------
  console.log('== 2. DatabaseManager');
  const healthConfig = new HealthCheckConfig({
    enabled: true,
    timeoutMs: 2000, // timeout=2.0
    maxAgeMs: 7_200_000, // max_age=7200
    intervalMs: 60_000, // interval=60
  });
  const dbManager = new DatabaseManager({
    databaseUrl: `sqlite:///${file}`, // an absolute path: sqlite:////tmp/.../app.db
    poolSize: 10,
    healthCheckConfig: healthConfig,
  });
  await dbManager.initialize();
  {
    // Get a healthy connection (validated on borrow); `await using` gives it back at the block's end.
    await using lease = await dbManager.getConnection();
    const conn = lease.connection; // the better-sqlite3 Database
    console.log(`SELECT 1 -> ${JSON.stringify(conn.prepare('SELECT 1 AS ok').get())}`);
    console.log(`leased ${lease.connectionId}, status ${lease.healthyConnection.status}`);
  }
  // The same without a lease object: a callback, or one statement.
  const count = await dbManager.withConnection((conn) => conn.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number });
  console.log(`withConnection: ${count.n} users`);
  await dbManager.run('INSERT INTO users (name) VALUES (?)', ['edsger']);
  console.log(`get: ${JSON.stringify(await dbManager.get('SELECT name FROM users WHERE id = ?', [3]))}`);
  await dbManager.transaction(async (tx) => {
    await tx.run('INSERT INTO users (name) VALUES (?)', ['barbara']);
    await tx.run('INSERT INTO users (name) VALUES (?)', ['donald']);
  });
  console.log(`after a transaction: ${(await dbManager.all('SELECT name FROM users')).length} users`);

  // --- 3. Settings from the environment (the guide's DatabaseSettings, in seconds) -----------
  console.log('== 3. Environment');
  const settings = databaseSettingsFromEnv({
    DATABASE_URL: `sqlite:///${file}`,
    DB_POOL_SIZE: '4',
    DB_HEALTH_CHECK_ENABLED: 'true',
    DB_HEALTH_CHECK_TIMEOUT: '1.5',
    DB_HEALTH_CHECK_INTERVAL: '30',
    DB_MAX_CONNECTION_AGE: '3600',
    DB_MAX_CONNECTION_USAGE: '1000',
  });
  const h = settings.healthCheckConfig;
  console.log(`settings: poolSize ${settings.poolSize}, timeoutMs ${h.timeoutMs}, intervalMs ${h.intervalMs}, maxAgeMs ${h.maxAgeMs}, maxUsage ${h.maxUsage}`);

  // --- 4. Statistics --------------------------------------------------------------------------
  console.log('== 4. Statistics');
  const stats = await dbManager.getConnectionStats();
  console.log(`Pool size: ${stats.poolSize}/${stats.maxPoolSize}`);
  console.log(`Available connections: ${stats.availableConnections}`);
  console.log(`Healthy connections: ${stats.healthyConnections}`);
  console.log(`Unhealthy connections: ${stats.unhealthyConnections}`);
  console.log(`Success rate: ${percent(stats.healthCheckSuccessRate)}`);
  console.log(`Average age: ${stats.averageAge.toFixed(1)}s`);
  console.log(`Total usage: ${stats.totalUsage}`);
  const connectionStats = [...dbManager.connections()][0]!.getStats();
  console.log(`Connection ID: ${connectionStats.connectionId}`);
  console.log(`Status: ${connectionStats.status}`);
  console.log(`Age: ${connectionStats.ageSeconds.toFixed(1)}s`);
  console.log(`Usage count: ${connectionStats.usageCount}`);
  console.log(`Health checks: ${connectionStats.healthCheckCount}`);
  console.log(`Success rate: ${percent(connectionStats.healthCheckSuccessRate)}`);
  console.log(`Avg query time: ${connectionStats.averageQueryTime.toFixed(3)}s`);

  // --- 5. ConnectionHealthManager -----------------------------------------------------------
  console.log('== 5. ConnectionHealthManager');
  // The pool runs its own monitor (dbManager.healthManager); a separate one works the same way.
  const healthManager = new ConnectionHealthManager(healthConfig);
  await healthManager.startMonitoring(dbManager);
  const cycle = await healthManager.runCycle(); // what the timer does every intervalMs
  console.log(`monitoring cycle: probed ${cycle.probed}, failed ${cycle.failed}, retired ${cycle.retired}`);
  const poolStats = healthManager.getPoolStatistics(dbManager);
  console.log(`Healthy connections: ${poolStats.healthyConnections}/${poolStats.totalConnections}`);
  await healthManager.stopMonitoring();

  // --- 6. Handling failures: the guide's retry pattern ----------------------------------------
  console.log('== 6. Retries');
  let attempts = 0;
  async function robustDatabaseOperation(): Promise<unknown[]> {
    const maxRetries = 3;
    const retryDelayMs = 10;
    for (let attempt = 0; ; attempt++) {
      try {
        attempts++;
        // Fails until the table exists: created by "someone else" after the first attempt.
        return await dbManager.all('SELECT * FROM audit_log');
      } catch (error) {
        if (attempt >= maxRetries - 1) throw error;
        console.log(`Database operation failed (attempt ${attempt + 1}): ${(error as Error).message}`);
        if (attempt === 0) await dbManager.exec('CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT)');
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** attempt));
      }
    }
  }
  const rows = await robustDatabaseOperation();
  console.log(`succeeded after ${attempts} attempts with ${rows.length} rows`);
  const afterErrors = await dbManager.getConnectionStats();
  console.log(`a SQL error leaves connections healthy: ${afterErrors.healthyConnections}/${afterErrors.totalConnections}`);

  // --- 7. Cleanup -----------------------------------------------------------------------------
  const report = await dbManager.close(); // stops monitoring and closes every connection
  console.log(`closed: ${dbManager.closed}, leases forced: ${report.forcedLeases.length}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('basic_health_checking: done');
