/**
 * Custom health checks (the guide's "Health Check Strategies"), in TypeScript.
 *
 *   npx tsx examples/custom_health_checks.ts
 *
 * Runs on a temporary database file and exits 0. It shows:
 *   1. the guide's four strategies as configured queries (quick, table, write, integrity), each
 *      probing a pool's connections, with what a probe costs;
 *   2. what the write strategy really tests: its TEMP table lives in the connection's private temp
 *      database, so it passes while another connection holds the database's write lock; a check
 *      that takes the main database's lock (BEGIN IMMEDIATE; ROLLBACK;) fails within its timeout;
 *   3. a custom probe: an application check as a SQL function (here: the schema version the code
 *      expects), which marks connections unhealthy and has them replaced when it fails;
 *   4. switching strategy at run time (the guide's migration phase 3: PRAGMA quick_check(1)).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseManager, HealthCheckConfig, type HealthCheckOptions } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'custom-health-checks-'));
const file = join(dir, 'app.db');

/** The guide's four strategies. */
const STRATEGIES: Record<string, HealthCheckOptions> = {
  // 1. Quick Health Check (default): very fast, but never reads the database file.
  quick: { query: 'SELECT 1', timeoutMs: 1000 },
  // 2. Table Validation Check: reads the schema table.
  table: { query: 'SELECT COUNT(*) FROM sqlite_master LIMIT 1', timeoutMs: 2000 },
  // 3. Write Validation Check: several statements, run as one script.
  write: { query: 'CREATE TEMP TABLE health_check (id INTEGER); DROP TABLE health_check;', timeoutMs: 5000 },
  // 4. Integrity Check: thorough and expensive; use sparingly.
  integrity: { query: 'PRAGMA integrity_check(1)', timeoutMs: 10_000 },
};

async function openPool(healthCheckConfig: HealthCheckOptions, extra: { onConnect?: (db: Database.Database) => void } = {}): Promise<DatabaseManager> {
  const pool = new DatabaseManager({ filename: file, poolSize: 2, healthCheckConfig: { minHealthyConnections: 2, ...healthCheckConfig }, ...extra });
  await pool.initialize();
  return pool;
}

try {
  // Some data, so the table and integrity checks have something to read.
  const setup = new Database(file);
  setup.pragma('journal_mode = WAL');
  setup.exec('CREATE TABLE trades (id INTEGER PRIMARY KEY, symbol TEXT, qty INTEGER); CREATE INDEX trades_symbol ON trades (symbol)');
  const insert = setup.prepare('INSERT INTO trades (symbol, qty) VALUES (?, ?)');
  setup.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run(['AAPL', 'MSFT', 'NVDA'][i % 3], i);
  })();
  setup.close();

  // --- 1. The four strategies -----------------------------------------------------------------
  console.log('== 1. Strategies');
  const PROBES = 200;
  for (const [name, options] of Object.entries(STRATEGIES)) {
    const pool = await openPool(options);
    const connections = [...pool.connections()];
    const started = performance.now();
    let passed = 0;
    for (let i = 0; i < PROBES; i++) {
      if (await connections[i % connections.length]!.validateHealth({ force: true })) passed++;
    }
    const perProbeMs = (performance.now() - started) / PROBES;
    const stats = await pool.getConnectionStats();
    console.log(
      `${name.padEnd(9)} ${passed}/${PROBES} passed, ${perProbeMs.toFixed(3)} ms per probe, ` +
        `success rate ${(stats.healthCheckSuccessRate * 100).toFixed(0)}%, query: ${options.query}`,
    );
    await pool.close();
  }

  // --- 2. What the write strategy tests ---------------------------------------------------------
  console.log('== 2. Write checks under another connection\'s write lock');
  const locker = new Database(file);
  for (const [name, query] of [
    ['guide write check (TEMP table)', STRATEGIES.write!.query!],
    ['main-database write check', 'BEGIN IMMEDIATE; ROLLBACK;'],
  ] as const) {
    const pool = await openPool({ query, timeoutMs: 100 }); // opened (and first probed) before the lock
    locker.exec('BEGIN EXCLUSIVE');
    locker.exec("INSERT INTO trades (symbol, qty) VALUES ('LOCK', 0)");
    const healthy = [...pool.connections()][0]!;
    const started = performance.now();
    const result = await healthy.probe({ force: true });
    const took = performance.now() - started;
    console.log(
      result.passed
        ? `${name}: passed while the database is locked`
        : `${name}: failed with ${result.error?.code} after ${took.toFixed(0)} ms (timeoutMs ${pool.healthCheckConfig.timeoutMs}) while the database is locked`,
    );
    locker.exec('ROLLBACK');
    await pool.close();
  }
  locker.close();
  console.log('lesson: the guide\'s write check proves only that the temp schema is writable; use BEGIN IMMEDIATE; ROLLBACK; to test the write lock');

  // --- 3. A custom probe -------------------------------------------------------------------------
  console.log('== 3. Custom probe');
  const EXPECTED_SCHEMA_VERSION = 3;
  const admin = new Database(file);
  admin.pragma(`user_version = ${EXPECTED_SCHEMA_VERSION}`);
  // The probe query passes the database's schema version to a function that checks it: a probe
  // fails when its query throws. (A function must not query its own connection mid-statement.)
  const pool = await openPool(
    { query: 'SELECT app_schema_check(user_version) FROM pragma_user_version', maxConsecutiveFailures: 0, cacheDurationMs: 0 },
    {
      onConnect: (db) =>
        db.function('app_schema_check', (version: unknown) => {
          if (version !== EXPECTED_SCHEMA_VERSION) throw new Error(`schema version ${String(version)}, this code needs ${EXPECTED_SCHEMA_VERSION}`);
          return 1;
        }),
    },
  );
  let cycle = await pool.healthManager.runCycle();
  console.log(`schema ${EXPECTED_SCHEMA_VERSION}: probed ${cycle.probed}, failed ${cycle.failed}`);
  admin.pragma('user_version = 4'); // a newer deploy migrated the database
  cycle = await pool.healthManager.runCycle();
  let stats = await pool.getConnectionStats();
  console.log(`schema 4: probed ${cycle.probed}, failed ${cycle.failed}; closed as unhealthy: ${stats.lifetime.closed.unhealthy}; open connections: ${stats.poolSize}`);
  const failure = await pool.getConnection({ timeoutMs: 50 }).catch((error: Error) => error);
  console.log(`getConnection(): ${failure instanceof Error ? failure.name : 'a lease'}${failure instanceof Error && failure.cause instanceof Error ? ` (${failure.cause.message})` : ''}`);
  admin.pragma(`user_version = ${EXPECTED_SCHEMA_VERSION}`); // rolled back
  await pool.healthManager.runCycle();
  stats = await pool.getConnectionStats();
  console.log(`schema ${EXPECTED_SCHEMA_VERSION} again: healthy ${stats.healthyConnections}/${stats.poolSize}, success rate over the pool's life ${(stats.healthCheckSuccessRate * 100).toFixed(0)}%`);
  admin.close();

  // --- 4. Switching strategy at run time -------------------------------------------------------------
  console.log('== 4. Switching strategy');
  const config: HealthCheckConfig = pool.healthCheckConfig;
  config.query = 'PRAGMA quick_check(1)';
  config.timeoutMs = 2000;
  cycle = await pool.healthManager.runCycle();
  console.log(`PRAGMA quick_check(1): probed ${cycle.probed}, failed ${cycle.failed}`);
  await pool.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('custom_health_checks: done');
