import fs from 'node:fs';
import path from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { fileNamespace } from '../../src/telemetry/namespace.js';
import { DatabaseManager } from '../../src/pool/database-manager.js';
import { AcquireTimeoutError } from '../../src/errors.js';
import { metric, newPool, tempDir, telemetryHarness, type Harness } from './harness.js';

/**
 * `db.namespace`: the database file's name by default, so the host's directory layout stays out of
 * every span and metric point; the path as configured, or a function's answer, on request.
 */

describe('fileNamespace', () => {
  it.each([
    ['/srv/acme/prod/data/app.db', 'app.db'],
    ['data/app.db', 'app.db'],
    ['app.db', 'app.db'],
    ['C:\\Users\\ada\\app.db', 'app.db'],
    ['/srv/data/', 'data'],
    ['file:/srv/data/app.db?mode=ro&vfs=secret', 'app.db'],
    ['file:app.db#frag', 'app.db'],
    ['file::memory:?cache=shared', ':memory:'],
    [':memory:', ':memory:'],
    ['', ''],
  ])('%s → %s', (filename, expected) => {
    expect(fileNamespace(filename)).toBe(expected);
  });
});

/** Every `db.namespace` on the spans and the metric points the harness holds. */
async function namespaces(h: Harness): Promise<Set<unknown>> {
  const found = new Set<unknown>();
  const collect = (attributes: Attributes | undefined): void => {
    if (attributes !== undefined && 'db.namespace' in attributes) found.add(attributes['db.namespace']);
  };
  for (const span of h.spans.getFinishedSpans()) collect(span.attributes);
  for (const m of (await h.reader.metrics()).values()) for (const point of m.dataPoints) collect(point.attributes);
  return found;
}

async function workload(pool: ReturnType<typeof newPool>): Promise<void> {
  await pool.exec('CREATE TABLE t (x)');
  await pool.run('INSERT INTO t VALUES (?)', [1]);
  await pool.get('SELECT x FROM t');
}

describe('db.namespace', () => {
  it('is the file name on every statement span and duration point by default; the pool keeps its path', async () => {
    const h = telemetryHarness();
    expect(h.instrumentation.getConfig().dbNamespace).toBeUndefined();
    const dir = tempDir();
    const pool = newPool({ filename: path.join(dir, 'orders.db') });
    await workload(pool);
    expect(await namespaces(h)).toEqual(new Set(['orders.db']));
    expect(metric(await h.reader.metrics(), 'db.client.operation.duration').dataPoints.length).toBeGreaterThan(0);
    // Nothing exported names the directory, under any attribute.
    expect(JSON.stringify(h.spans.getFinishedSpans().map((s) => s.attributes))).not.toContain(dir);
    // The pool's own property, statistics and logs (local, not exported) keep the path.
    expect(pool.namespace).toBe(path.join(dir, 'orders.db'));
  });

  it('keeps :memory: as it is', async () => {
    const h = telemetryHarness();
    const pool = newPool({ filename: ':memory:', poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT 1 AS one');
    expect(await namespaces(h)).toEqual(new Set([':memory:']));
  });

  it("dbNamespace: 'path' reports the filename as configured", async () => {
    const h = telemetryHarness({ dbNamespace: 'path' });
    const pool = newPool();
    await workload(pool);
    expect(await namespaces(h)).toEqual(new Set([pool.namespace]));
  });

  it('dbNamespace: a function of the pool, called once per pool', async () => {
    const calls: { poolName: string; namespace: string }[] = [];
    const h = telemetryHarness({
      dbNamespace: (pool) => {
        calls.push({ poolName: pool.poolName, namespace: pool.namespace });
        return `tenant-a/${path.basename(pool.namespace)}`;
      },
    });
    const pool = newPool({ poolName: 'orders' });
    await workload(pool);
    expect(await namespaces(h)).toEqual(new Set(['tenant-a/app.db']));
    expect(calls).toEqual([{ poolName: 'orders', namespace: pool.namespace }]);
  });

  it('a dbNamespace function that throws is counted, and the file name is reported, never the path', async () => {
    const h = telemetryHarness({
      dbNamespace: () => {
        throw new Error('no tenant');
      },
    });
    const pool = newPool();
    await workload(pool);
    expect(await namespaces(h)).toEqual(new Set(['app.db']));
    expect(pool.getConnectionStatsSync().lifetime.telemetryFailures).toBe(1);
  });

  it('is what a failed connect, acquire or probe span says of the file, not its path', async () => {
    for (const dbNamespace of ['fileName', 'path'] as const) {
      const h = telemetryHarness({ dbNamespace });
      const pool = newPool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
      await pool.initialize();
      const dir = path.dirname(pool.namespace);
      // The file is gone: the probe fails, and so does every open of a replacement.
      fs.rmSync(pool.namespace);
      await pool.healthManager.runCycle();
      await expect(pool.getConnection({ timeoutMs: 50 })).rejects.toBeInstanceOf(AcquireTimeoutError);

      const failed = h.spans.getFinishedSpans().filter((s) => s.status.message !== undefined);
      const names = new Set(failed.map((s) => s.name));
      for (const name of ['sqlite_pool.health_check', 'sqlite_pool.connect', 'sqlite_pool.acquire']) expect(names, name).toContain(name);
      const messages = failed.flatMap((s) => [s.status.message, ...s.events.flatMap((e) => [e.attributes?.['exception.message'], e.attributes?.['exception.stacktrace']])]);
      const exported = JSON.stringify(messages);
      expect(exported).toContain(dbNamespace === 'path' ? pool.namespace : 'app.db');
      if (dbNamespace === 'fileName') expect(exported).not.toContain(dir);
      h.instrumentation.disable();
      await pool.close({ timeoutMs: 0 });
    }
  });
});

describe('the default pool name', () => {
  it('is the file name, and a file: URI loses its query (which may hold secrets)', () => {
    expect(new DatabaseManager({ filename: '/srv/data/app.db' }).poolName).toBe('app.db');
    expect(new DatabaseManager({ filename: 'file:/srv/data/app.db?mode=rwc&secretkey=hunter2' }).poolName).toBe('app.db');
  });
});
