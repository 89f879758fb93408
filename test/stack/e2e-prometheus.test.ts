/**
 * End to end against a real Prometheus server (Debian's 2.42, installed by .ci/run): the demo
 * service serves /metrics, Prometheus scrapes it every second on loopback and evaluates the
 * shipped alert rules every second, and the test asks Prometheus's HTTP API what it sees.
 *
 * Which fault shows in `sqlite_pool_connection_health{sqlite_pool_connection_status="unhealthy"}`?
 * The pool closes a connection in the same call that finds it unhealthy (a failed probe, a
 * connection-level error), so the unhealthy count is back to 0 before any scrape can see it. A
 * deleted file therefore shows as *fewer* connections (replacements cannot open: the demo runs with
 * fileMustExist), which is SqlitePoolHealthyBelowMinimum, not as unhealthy ones; a locked database
 * does not fail the default `SELECT 1` probe at all (WAL readers are not blocked; only writes get
 * SQLITE_BUSY). A connection whose handle was closed behind the pool's back is unhealthy
 * from that moment until the pool next looks at it (a borrow that meets it, or a monitoring cycle).
 * So the demo runs with no load and a long monitoring interval, `close-connection` leaves one
 * unhealthy connection in the pool for as long as the test wants, and `clear` runs the monitoring
 * cycle that replaces it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIP_STACK_TESTS } from '../support/stack-tools.js';
import { Child, REPO_ROOT, freePort, pollUntil, post, requestJson, startChild, startDemo, stopAll, tempDir, type Demo } from '../demo/demo-process.js';

/** Debian's binary, or the first `prometheus` on PATH. */
const PROMETHEUS = ['/usr/bin/prometheus', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'prometheus'))].find((path) =>
  existsSync(path),
);
const RULES = join(REPO_ROOT, 'otel-collector', 'prometheus', 'rules', 'sqlite-pool-alerts.yaml');
const ALERT = 'SqlitePoolUnhealthyConnections';
const POOL = 'demo';

interface ApiResponse<T> {
  status: string;
  data: T;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

describe.skipIf(SKIP_STACK_TESTS)('demo service + real Prometheus with the shipped alert rules', () => {
  let demo: Demo;
  let prometheus: Child;
  let api: string;

  const query = async (promql: string): Promise<Sample[]> => {
    const r = await requestJson<ApiResponse<{ result: Sample[] }>>(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (r.body.status !== 'success') throw new Error(`query ${promql} failed: ${JSON.stringify(r.body)}`);
    return r.body.data.result;
  };
  const alerts = async (): Promise<Alert[]> => {
    const r = await requestJson<ApiResponse<{ alerts: Alert[] }>>(`${api}/api/v1/alerts`);
    return r.body.data.alerts.filter((a) => a.labels.alertname === ALERT && a.labels.db_client_connection_pool_name === POOL);
  };

  beforeAll(async () => {
    if (PROMETHEUS === undefined) {
      throw new Error("No prometheus binary (looked at /usr/bin/prometheus and on PATH): this test needs Debian's prometheus package (apt-get install prometheus; .ci/run installs it)");
    }
    // No load and monitoring only every 10 minutes: nothing but the test touches the pool.
    demo = await startDemo({ name: 'demo-e2e', env: { DB_HEALTH_CHECK_INTERVAL: '600' } });
    const metrics = new URL(demo.metricsUrl);

    const dir = tempDir('otel-sqlite-pool-prometheus-');
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(RULES)}`,
        'scrape_configs:',
        '  - job_name: sqlite-pool-app',
        '    static_configs:',
        `      - targets: [${JSON.stringify(metrics.host)}]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = startChild('prometheus', PROMETHEUS, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    await pollUntil(
      'Prometheus is ready',
      async () => {
        if (!prometheus.running) throw new Error(`prometheus exited\n${prometheus.tail()}`);
        const r = await fetch(`${api}/-/ready`);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${prometheus.tail()}`);
    });
  }, 60_000);

  afterAll(stopAll, 20_000);

  it('loads the shipped rule file', async () => {
    const r = await requestJson<ApiResponse<{ groups: { file: string; rules: { name: string }[] }[] }>>(`${api}/api/v1/rules`);
    const rules = r.body.data.groups.flatMap((g) => g.rules.map((rule) => rule.name));
    expect(r.body.data.groups.map((g) => g.file)).toEqual([RULES]);
    expect(rules).toContain(ALERT);
    expect(rules).toContain('SqlitePoolHealthyBelowMinimum');
  });

  it('scrapes the pool series from the demo', async () => {
    const counts = await pollUntil(
      'Prometheus has db_client_connection_count for the demo pool',
      async () => {
        const result = await query(`db_client_connection_count{db_client_connection_pool_name="${POOL}"}`);
        return result.length >= 2 ? result : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(counts.map((s) => s.metric.db_client_connection_state).sort()).toEqual(['idle', 'used']);
    expect(counts.every((s) => s.metric.job === 'sqlite-pool-app')).toBe(true);
    const health = await query(`sqlite_pool_connection_health{db_client_connection_pool_name="${POOL}"}`);
    const byStatus = Object.fromEntries(health.map((s) => [s.metric.sqlite_pool_connection_status, Number(s.value[1])]));
    expect(byStatus).toMatchObject({ healthy: 2, unhealthy: 0 });
    expect(await alerts()).toEqual([]);
  }, 40_000);

  it(`a connection closed behind the pool's back makes ${ALERT} pending (or firing)`, async () => {
    const fault = await post<{ connectionId: string }>(`${demo.baseUrl}/faults/close-connection`);
    expect(fault.status).toBe(200);
    const alert = await pollUntil(
      `${ALERT} is pending or firing`,
      async () => (await alerts()).find((a) => a.state === 'pending' || a.state === 'firing'),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(alert.labels.severity).toBe('warning');
    expect(Number(alert.value)).toBe(1);
    expect(alert.annotations.summary).toBe(`Pool ${POOL} has 1 unhealthy connection(s)`);
    const unhealthy = await query(`sqlite_pool_connection_health{db_client_connection_pool_name="${POOL}",sqlite_pool_connection_status="unhealthy"}`);
    expect(unhealthy.map((s) => Number(s.value[1]))).toEqual([1]);
  }, 40_000);

  it(`clearing the fault replaces the connection and ${ALERT} resolves`, async () => {
    const cleared = await post<{ cycle: { retired: number } }>(`${demo.baseUrl}/faults/clear`);
    expect(cleared.status).toBe(200);
    expect(cleared.body.cycle.retired).toBe(1);
    await pollUntil('the alert is gone from /api/v1/alerts', async () => ((await alerts()).length === 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    const closed = await query(`sqlite_pool_connection_closed_total{db_client_connection_pool_name="${POOL}",sqlite_pool_close_reason="unhealthy"}`);
    expect(closed.map((s) => Number(s.value[1]))).toEqual([1]);
  }, 40_000);
});
