/**
 * The demo service (`npm start`) as a real child process: `node --import tsx
 * examples/demo-service.ts` on an ephemeral port, a free Prometheus port and a temp database. The
 * tests wait for its READY line, use every route, inject faults and watch the pool find them
 * through /stats and /healthz, read /metrics, and stop it with SIGTERM and SIGINT.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, post, requestJson, startDemo, stopAll, type Demo } from './demo-process.js';

interface Stats {
  poolName: string;
  minHealthyConnections: number;
  totalConnections: number;
  healthyConnections: number;
  unhealthyConnections: number;
  pendingRequests: number;
  totalUsage: number;
  lifetime: { created: number; closed: { unhealthy: number; error: number; [reason: string]: number } };
  connections: { connectionId: string; status: string }[];
  faults: { deleted: boolean; locked: boolean; closedConnections: string[]; heldLeases: number };
  load: { enabled: boolean };
}

interface User {
  id: number;
  name: string;
  email: string;
}

describe('demo service: routes, faults, health and metrics', () => {
  let demo: Demo;
  const url = (path: string): string => `${demo.baseUrl}${path}`;
  const stats = async (): Promise<Stats> => (await requestJson<Stats>(url('/stats'))).body;

  beforeAll(async () => {
    // Monitoring every second so that faults are found quickly; requests give up waiting after 1 s.
    demo = await startDemo({ env: { DB_HEALTH_CHECK_INTERVAL: '1', DB_ACQUIRE_TIMEOUT: '1' } });
  }, 40_000);
  afterAll(stopAll, 20_000);

  it('prints where to look and binds to loopback', () => {
    expect(demo.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.baseUrl).not.toMatch(/:0$/);
    expect(demo.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const out = demo.child.stdout;
    expect(out).toContain(`curl -s -X POST ${demo.baseUrl}/faults/close-connection`);
    expect(out).toContain('/faults/delete-db');
    expect(out).toContain('/faults/lock-db');
    expect(out).toContain('otel-collector');
    expect(out).toContain('HOST=0.0.0.0');
    expect(out).toMatch(/traces\s+off/);
    expect(out).toMatch(/load\s+off/);
  });

  it('serves users through the pool: read one, page, create, and the error statuses', async () => {
    const one = await requestJson<User>(url('/users/42'));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: 42, name: 'User 42', email: 'user42@example.test' });

    const page = await requestJson<{ users: User[]; limit: number }>(url('/users?limit=3&offset=10'));
    expect(page.status).toBe(200);
    expect(page.body.users.map((u) => u.id)).toEqual([11, 12, 13]);

    const created = await post<User>(url('/users'), { name: 'Ada', email: 'ada@example.com' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Ada', email: 'ada@example.com' });
    expect((await requestJson<User>(url(`/users/${created.body.id}`))).body.name).toBe('Ada');

    expect((await post(url('/users'), { name: 'Ada again', email: 'ada@example.com' })).status).toBe(409);
    expect((await post(url('/users'), { name: '' })).status).toBe(400);
    expect((await requestJson(url('/users/999999'))).status).toBe(404);
    expect((await requestJson(url('/users/abc'))).status).toBe(400);
    expect((await requestJson(url('/nowhere'))).status).toBe(404);
    expect((await requestJson(url('/faults/clear'))).status).toBe(405);

    const s = await stats();
    expect(s.poolName).toBe('demo');
    expect(s.totalUsage).toBeGreaterThanOrEqual(5);
    expect(s.load.enabled).toBe(false);
  });

  it('/healthz answers 200 while healthy connections >= minHealthyConnections', async () => {
    const health = await requestJson<{ status: string; healthyConnections: number; minHealthyConnections: number }>(url('/healthz'));
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.minHealthyConnections).toBe(2);
    expect(health.body.healthyConnections).toBeGreaterThanOrEqual(2);
  });

  it('close-connection: the pool finds the closed handle and replaces it, and /stats says so', async () => {
    const before = await stats();
    const fault = await post<{ connectionId: string }>(url('/faults/close-connection'));
    expect(fault.status).toBe(200);
    const closedId = fault.body.connectionId;
    expect(closedId).toMatch(/^conn_\d+$/);

    // The monitoring cycle (every second here) retires it and refills the pool.
    const after = await pollUntil('/stats reports the closed connection replaced', async () => {
      const s = await stats();
      const gone = !s.connections.some((c) => c.connectionId === closedId);
      // A closed handle means the connection broke: it is retired with reason error.
      return gone && s.lifetime.closed.error > before.lifetime.closed.error && s.healthyConnections >= s.minHealthyConnections ? s : undefined;
    });
    expect(after.lifetime.created).toBeGreaterThan(before.lifetime.created);
    expect(after.unhealthyConnections).toBe(0);
    expect(after.faults.closedConnections).toEqual([]);
    expect((await requestJson(url('/healthz'))).status).toBe(200);
  });

  it('delete-db: probes evict every connection, /healthz turns 503 and requests 503; restore-db brings both back', async () => {
    expect((await post(url('/faults/delete-db'))).status).toBe(200);
    const down = await pollUntil('/healthz answers 503', async () => {
      const r = await requestJson<{ status: string; healthyConnections: number }>(url('/healthz'));
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).toMatchObject({ status: 'unhealthy', healthyConnections: 0 });
    expect(down.headers.get('retry-after')).toBe('1');

    const failed = await requestJson<{ error: string; message: string }>(url('/users/1'));
    expect(failed.status).toBe(503);
    expect(failed.body.error).toBe('SQLITE_POOL_ACQUIRE_TIMEOUT');
    expect(failed.body.message).toContain('unable to open database file');
    expect((await stats()).faults.deleted).toBe(true);
    expect(demo.child.stderr).toContain('no longer exists');

    expect((await post(url('/faults/restore-db'))).status).toBe(200);
    const up = await pollUntil('/healthz answers 200 again', async () => {
      const r = await requestJson<{ healthyConnections: number }>(url('/healthz'));
      return r.status === 200 ? r : undefined;
    });
    expect(up.body.healthyConnections).toBeGreaterThanOrEqual(2);
    // The same database is back, with what was written before the fault.
    const ada = await requestJson<{ users: User[] }>(url('/users?limit=100&offset=200'));
    expect(ada.body.users.map((u) => u.email)).toContain('ada@example.com');
  });

  it('lock-db: writes fail fast with SQLITE_BUSY (503) while reads go on; unlock-db ends it', async () => {
    expect((await post(url('/faults/lock-db'))).status).toBe(200);
    const write = await post<{ error: string }>(url('/users'), { name: 'Locked', email: 'locked@example.com' });
    expect(write.status).toBe(503);
    expect(write.body.error).toBe('SQLITE_BUSY');
    expect((await requestJson(url('/users/7'))).status).toBe(200);
    expect((await post(url('/faults/unlock-db'))).status).toBe(200);
    expect((await post(url('/users'), { name: 'Unlocked', email: 'unlocked@example.com' })).status).toBe(201);
  });

  it('hold-connections: every connection is leased, requests time out (503); release-connections ends it', async () => {
    const held = await post<{ held: number }>(url('/faults/hold-connections'));
    expect(held.status).toBe(200);
    const before = await stats();
    expect(held.body.held).toBe(before.totalConnections);
    expect(before.faults.heldLeases).toBe(held.body.held);
    expect((await post(url('/faults/hold-connections'))).status).toBe(409);
    const waited = await requestJson<{ error: string }>(url('/users/7'));
    expect(waited.status).toBe(503);
    expect(waited.body.error).toBe('SQLITE_POOL_ACQUIRE_TIMEOUT');
    const released = await post<{ released: number }>(url('/faults/release-connections'));
    expect(released.body.released).toBe(held.body.held);
    expect((await stats()).faults.heldLeases).toBe(0);
    expect((await requestJson(url('/users/7'))).status).toBe(200);
  });

  it('clear undoes every fault at once', async () => {
    await post(url('/faults/lock-db'));
    await post(url('/faults/close-connection'));
    const cleared = await post<{ cleared: string[] }>(url('/faults/clear'));
    expect(cleared.status).toBe(200);
    expect(cleared.body.cleared.join(' ')).toContain('lock-db');
    const s = await stats();
    expect(s.faults).toEqual({ deleted: false, locked: false, closedConnections: [], heldLeases: 0 });
    expect(s.unhealthyConnections).toBe(0);
    expect((await requestJson(url('/healthz'))).status).toBe(200);
  });

  it('/metrics serves the pool series, with the replacements counted', async () => {
    const response = await fetch(demo.metricsUrl);
    expect(response.status).toBe(200);
    const text = await response.text();
    const pool = 'db_client_connection_pool_name="demo"';
    for (const series of [
      'db_client_connection_count',
      'db_client_connection_max',
      'db_client_connection_pending_requests',
      'sqlite_pool_connection_health',
      'sqlite_pool_connection_age',
      'db_client_operation_duration_bucket',
      'db_client_connection_wait_time_bucket',
      'sqlite_pool_health_check_duration_count',
    ]) {
      expect(text, series).toMatch(new RegExp(`^${series}\\{[^}]*${pool}`, 'm'));
    }
    // The faults so far (a deleted file, a closed handle) broke connections: closed with reason error.
    const brokenClosed = /^sqlite_pool_connection_closed_total\{[^}]*sqlite_pool_close_reason="error"[^}]*\} (\d+)/m.exec(text);
    expect(Number(brokenClosed?.[1])).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^sqlite_pool_connection_health\{[^}]*sqlite_pool_connection_status="unhealthy"[^}]*\} 0$/m);
  });

  it('SIGTERM drains: a request waiting for a connection is answered, the pool closes, exit code 0', async () => {
    // Make a request wait in the pool's queue: no connection can open while the file is gone.
    await post(url('/faults/delete-db'));
    await pollUntil('/healthz answers 503', async () => ((await requestJson(url('/healthz'))).status === 503 ? true : undefined));
    const waiting = requestJson<{ error: string }>(url('/users/3'));
    await pollUntil('the request waits for a connection', async () => ((await stats()).pendingRequests >= 1 ? true : undefined));

    demo.child.signal('SIGTERM');
    // Answered (after its acquire timeout), not dropped: the server waits for it before closing the pool.
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.body.error).toBe('SQLITE_POOL_ACQUIRE_TIMEOUT');
    const exit = await demo.child.waitForExit(15_000);
    expect(exit, demo.child.tail()).toEqual({ code: 0, signal: null });
    expect(demo.child.stdout).toContain('SIGTERM: draining');
    expect(demo.child.stdout).toMatch(/^DRAINED signal=SIGTERM requests=\d+ in_flight=0 leases_forced=0 telemetry=flushed/m);
    expect(demo.child.stderr).toContain('Pool demo closed');
    // A deleted database is put back at shutdown, so the next run finds it.
    const { existsSync } = await import('node:fs');
    expect(existsSync(demo.databaseFile)).toBe(true);
  }, 30_000);
});

describe('demo service: SIGINT with the load generator running', () => {
  afterEach(stopAll, 20_000);

  it('reports load progress, then drains on SIGINT and exits 0', async () => {
    const demo = await startDemo({ name: 'demo-load', env: { DEMO_LOAD: '1', DEMO_LOAD_RPS: '20', DEMO_PROGRESS_INTERVAL: '0.5' } });
    expect(demo.child.stdout).toMatch(/load\s+20 req\/s/);
    // A progress line that saw requests succeed, with the latency percentiles and the pool numbers.
    const progress = await demo.child.waitForLine(/^\[progress\] load (\d+\.\d) req\/s, p50 [\d.]+ ms, p99 [\d.]+ ms, errors 0 \| pool used \d+ idle \d+ pending \d+ \| healthy (\d+)/m, 20_000);
    expect(Number(progress[1])).toBeGreaterThan(0);
    expect(Number(progress[2])).toBeGreaterThanOrEqual(2);

    demo.child.signal('SIGINT');
    const exit = await demo.child.waitForExit(15_000);
    expect(exit, demo.child.tail()).toEqual({ code: 0, signal: null });
    const drained = /^DRAINED signal=SIGINT requests=(\d+) in_flight=0 leases_forced=0 telemetry=flushed/m.exec(demo.child.stdout);
    expect(drained, demo.child.tail()).not.toBeNull();
    expect(Number(drained?.[1])).toBeGreaterThan(0);
    expect(demo.child.stderr).toContain('Pool demo closed');
    expect(demo.child.stderr).not.toMatch(/ERROR|Drain failed/);
  }, 40_000);

  it('refuses bad settings with the variable named, exit code 2', async () => {
    await expect(startDemo({ name: 'demo-bad', env: { DB_POOL_SIZE: 'lots' }, readyTimeoutMs: 20_000 })).rejects.toThrow(
      /exited \(\{"code":2,"signal":null\}\)[\s\S]*Invalid DB_POOL_SIZE: "lots"/,
    );
  }, 30_000);
});

describe('demo service: fault routes beyond loopback', () => {
  afterEach(stopAll, 20_000);

  it('HOST=0.0.0.0: POST /faults/* answers 403 naming DEMO_FAULTS, and the database is untouched', async () => {
    const demo = await startDemo({ name: 'demo-exposed', env: { HOST: '0.0.0.0' } });
    const refused = await post<{ error: string; message: string }>(`${demo.baseUrl}/faults/delete-db`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('faults_disabled');
    expect(refused.body.message).toContain('DEMO_FAULTS=1');
    expect((await post(`${demo.baseUrl}/faults/lock-db`)).status).toBe(403);
    const { existsSync } = await import('node:fs');
    expect(existsSync(demo.databaseFile)).toBe(true);
    expect((await requestJson<{ enabled: boolean; deleted: boolean }>(`${demo.baseUrl}/faults`)).body).toMatchObject({ enabled: false, deleted: false });
    expect((await requestJson(`${demo.baseUrl}/users/1`)).status).toBe(200);
  }, 40_000);

  it('HOST=0.0.0.0 with DEMO_FAULTS=1: the routes work', async () => {
    const demo = await startDemo({ name: 'demo-exposed-faults', env: { HOST: '0.0.0.0', DEMO_FAULTS: '1' } });
    expect((await post(`${demo.baseUrl}/faults/lock-db`)).status).toBe(200);
    expect((await requestJson<{ locked: boolean }>(`${demo.baseUrl}/faults`)).body.locked).toBe(true);
    expect((await post(`${demo.baseUrl}/faults/unlock-db`)).status).toBe(200);
  }, 40_000);
});
