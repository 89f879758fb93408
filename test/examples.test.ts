/**
 * The guide's basic and custom-health-check examples, run as a user runs them (`npx tsx
 * examples/<name>.ts`; here `node --import tsx`, the same loader without npx): each must exit 0
 * on its own, print nothing on stderr, and print what its sections promise.
 */
import { describe, expect, test } from 'vitest';
import { runTs } from './helpers/run-script.js';

async function run(name: string): Promise<string> {
  const result = await runTs(`examples/${name}.ts`, 40_000);
  expect(result.stderr).toBe('');
  expect({ code: result.code, signal: result.signal }, result.stdout).toEqual({ code: 0, signal: null });
  return result.stdout;
}

describe('examples/basic_health_checking.ts', () => {
  test('wraps a connection, runs a pool, reads settings and statistics, monitors, retries, closes', async () => {
    const out = await run('basic_health_checking');
    // 1. HealthyConnection
    expect(out).toContain('validateHealth(): true');
    expect(out).toContain('users: [{"id":1,"name":"ada"},{"id":2,"name":"grace"}]');
    expect(out).toContain('status: healthy, isExpired: false, isStale: false');
    // 2. DatabaseManager
    expect(out).toContain('SELECT 1 -> {"ok":1}');
    expect(out).toMatch(/^leased conn_\d+, status healthy$/m);
    expect(out).toContain('withConnection: 2 users');
    expect(out).toContain('get: {"name":"edsger"}');
    expect(out).toContain('after a transaction: 5 users');
    // 3. Environment, in seconds -> ms
    expect(out).toContain('settings: poolSize 4, timeoutMs 1500, intervalMs 30000, maxAgeMs 3600000, maxUsage 1000');
    // 4. The guide's statistics lines
    for (const line of [
      /^Pool size: 2\/10$/m,
      /^Available connections: 2$/m,
      /^Healthy connections: 2$/m,
      /^Unhealthy connections: 0$/m,
      /^Success rate: 100\.00%$/m,
      /^Average age: \d+\.\ds$/m,
      /^Total usage: [1-9]\d*$/m,
      /^Connection ID: conn_\d+$/m,
      /^Status: healthy$/m,
      /^Usage count: \d+$/m,
      /^Health checks: [1-9]\d*$/m,
      /^Avg query time: \d+\.\d{3}s$/m,
    ]) {
      expect(out).toMatch(line);
    }
    // 5. ConnectionHealthManager
    expect(out).toContain('monitoring cycle: probed 2, failed 0, retired 0');
    expect(out).toContain('Healthy connections: 2/2');
    // 6. Retries
    expect(out).toContain('Database operation failed (attempt 1): no such table: audit_log');
    expect(out).toContain('succeeded after 2 attempts with 0 rows');
    expect(out).toContain('a SQL error leaves connections healthy: 2/2');
    // 7. Cleanup
    expect(out).toContain('closed: true, leases forced: 0');
    expect(out.trimEnd().endsWith('basic_health_checking: done')).toBe(true);
  });
});

describe('examples/custom_health_checks.ts', () => {
  test('runs the four strategies, shows what the write check tests, a custom probe, and a run-time switch', async () => {
    const out = await run('custom_health_checks');
    for (const name of ['quick', 'table', 'write', 'integrity']) {
      expect(out).toMatch(new RegExp(`^${name}\\s+200/200 passed, \\d+\\.\\d{3} ms per probe, success rate 100%`, 'm'));
    }
    expect(out).toContain('query: CREATE TEMP TABLE health_check (id INTEGER); DROP TABLE health_check;');
    expect(out).toContain('query: PRAGMA integrity_check(1)');
    // The guide's write check does not take the main database's lock; BEGIN IMMEDIATE does.
    expect(out).toContain('guide write check (TEMP table): passed while the database is locked');
    expect(out).toMatch(/^main-database write check: failed with SQLITE_BUSY after \d+ ms \(timeoutMs 100\) while the database is locked$/m);
    // The custom probe fails on a schema mismatch, has the connections replaced, and recovers.
    expect(out).toContain('schema 3: probed 2, failed 0');
    expect(out).toContain('schema 4: probed 2, failed 2; closed as unhealthy: 2; open connections: 0');
    expect(out).toMatch(/getConnection\(\): AcquireTimeoutError \(Could not open a connection to .*schema version 4, this code needs 3\)/);
    expect(out).toMatch(/schema 3 again: healthy 2\/2, success rate over the pool's life \d+%/);
    expect(out).toContain('PRAGMA quick_check(1): probed 2, failed 0');
    expect(out.trimEnd().endsWith('custom_health_checks: done')).toBe(true);
  });
});
