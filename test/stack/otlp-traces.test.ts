/**
 * Traces from the demo service over OTLP/HTTP, received by a stand-in for the collector: a
 * node:http server on loopback that accepts POST /v1/traces. `@opentelemetry/exporter-trace-otlp-http`
 * sends JSON (Content-Type application/json) by default, so the receiver parses JSON.
 *
 * The demo runs with OTEL_BSP_SCHEDULE_DELAY far beyond the test, so no batch is exported while
 * it runs: every span the receiver gets was flushed by the SIGTERM drain.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, post, requestJson, startDemo, stopAll, type Demo } from '../demo/demo-process.js';

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
  status?: { code?: number };
}
interface OtlpRequest {
  resourceSpans: {
    resource: { attributes: { key: string; value: OtlpValue }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}
interface ReceivedSpan extends OtlpSpan {
  scope: string;
  serviceName: string | undefined;
}

// OTLP span kinds (SpanKind of the API plus one).
const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;

const SERVICE_NAME = 'otel-sqlite-pool-demo-traces-test';
// A caller's W3C trace context: the demo's server span must continue this trace.
const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

function attr(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}

describe('OTLP/HTTP traces from the demo service', () => {
  const requests: { path: string; contentType: string | undefined }[] = [];
  const spans: ReceivedSpan[] = [];
  const receiverErrors: string[] = [];
  let receiver: Server;
  let demo: Demo;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
        try {
          if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`unexpected ${req.method} ${req.url}`);
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          const payload = JSON.parse(body.toString('utf8')) as OtlpRequest;
          for (const rs of payload.resourceSpans) {
            const serviceName = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
            for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, scope: ss.scope.name, serviceName });
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch (error) {
          receiverErrors.push(error instanceof Error ? error.message : String(error));
          res.writeHead(400, { 'content-type': 'application/json' }).end('{}');
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;

    demo = await startDemo({
      name: 'demo-traces',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        // The SDK's default encoding is protobuf (http/protobuf); this stand-in reads JSON.
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: SERVICE_NAME,
        OTEL_BSP_SCHEDULE_DELAY: '600000',
        DB_HEALTH_CHECK_INTERVAL: '1',
      },
    });
  }, 40_000);

  afterAll(async () => {
    await stopAll();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }, 20_000);

  it('exports request, acquire, statement and probe spans with service.name, flushed on SIGTERM', async () => {
    expect(demo.child.stdout).toContain(`OTLP/HTTP to http://127.0.0.1:`);
    const url = (path: string): string => `${demo.baseUrl}${path}`;

    const one = await requestJson(url('/users/42'), { headers: { traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01` } });
    expect(one.status).toBe(200);
    expect((await requestJson(url('/users?limit=5'))).status).toBe(200);
    expect((await post(url('/users'), { name: 'Traced', email: 'traced@example.com' })).status).toBe(201);
    expect((await requestJson(url('/users/999999'))).status).toBe(404);
    // Let a monitoring cycle (every second here) probe the idle connections.
    const before = (await requestJson<{ lifetime: { healthChecks: number } }>(url('/stats'))).body.lifetime.healthChecks;
    await pollUntil('a monitoring cycle probed the pool', async () => {
      const now = (await requestJson<{ lifetime: { healthChecks: number } }>(url('/stats'))).body.lifetime.healthChecks;
      return now >= before + 2 ? true : undefined;
    });

    // Everything is still in the batch processor's queue.
    expect(requests).toEqual([]);

    demo.child.signal('SIGTERM');
    const exit = await demo.child.waitForExit(20_000);
    expect(exit, demo.child.tail()).toEqual({ code: 0, signal: null });
    expect(demo.child.stdout).toMatch(/^DRAINED signal=SIGTERM .*telemetry=flushed/m);

    expect(receiverErrors).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      expect(r.path).toBe('/v1/traces');
      expect(r.contentType).toMatch(/^application\/json/);
    }
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set([SERVICE_NAME]));

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const children = (parent: OtlpSpan): ReceivedSpan[] => spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
    const server = (name: string): ReceivedSpan[] => spans.filter((s) => s.name === name && s.kind === SERVER);

    // GET /users/:id continues the caller's trace; acquire and statement spans are its children.
    const [get] = server('GET /users/:id').filter((s) => s.traceId === CALLER_TRACE_ID);
    expect(get, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
    if (get === undefined) return;
    expect(get.parentSpanId).toBe(CALLER_SPAN_ID);
    expect(get.scope).toBe('otel-sqlite-pool-demo');
    expect(attr(get, 'http.route')).toBe('/users/:id');
    expect(attr(get, 'http.request.method')).toBe('GET');
    expect(attr(get, 'http.response.status_code')).toBe(200);
    const getChildren = children(get);
    const acquire = getChildren.find((s) => s.name === 'sqlite_pool.acquire');
    expect(acquire?.kind).toBe(INTERNAL);
    expect(acquire?.scope).toBe('otel-sqlite-pool');
    expect(acquire && attr(acquire, 'db.client.connection.pool.name')).toBe('demo');
    const select = getChildren.find((s) => s.name === 'SELECT users');
    expect(select?.kind).toBe(CLIENT);
    if (select === undefined) return;
    expect(attr(select, 'db.system.name')).toBe('sqlite');
    expect(attr(select, 'db.operation.name')).toBe('SELECT');
    expect(attr(select, 'db.namespace')).toBe(path.basename(demo.databaseFile)); // the file's name, not its path
    expect(attr(select, 'db.query.text')).toBe('SELECT id, name, email, created_at FROM users WHERE id = ?');
    // Bound values stay out of spans (enhancedDatabaseReporting is off).
    expect(JSON.stringify(select.attributes)).not.toContain('42');

    // A request without a caller starts its own trace, with its statement inside.
    const [page] = server('GET /users');
    expect(page?.parentSpanId ?? '').toBe('');
    expect(page && children(page).map((s) => s.name)).toContain('SELECT users');

    // The insert runs in a transaction under POST /users.
    const [insert] = server('POST /users');
    expect(insert && attr(insert, 'http.response.status_code')).toBe(201);
    const insertStatements = insert === undefined ? [] : children(insert).filter((s) => s.kind === CLIENT).map((s) => s.name);
    expect(insertStatements).toContain('INSERT users');
    expect(insertStatements).toContain('SELECT users');

    const [missing] = server('GET /users/:id').filter((s) => attr(s, 'http.response.status_code') === 404);
    expect(missing).toBeDefined();

    // Probes of a monitoring cycle share its trace; connections opened at start have connect spans.
    const cycle = spans.find((s) => s.name === 'sqlite_pool.health_monitor.cycle' && children(s).length > 0);
    expect(cycle?.parentSpanId ?? '').toBe('');
    const probes = cycle === undefined ? [] : children(cycle);
    expect(probes.every((s) => s.name === 'sqlite_pool.health_check' && attr(s, 'sqlite_pool.health_check.trigger') === 'monitor')).toBe(true);
    expect(probes.every((s) => attr(s, 'sqlite_pool.health_check.result') === 'success')).toBe(true);
    expect(spans.filter((s) => s.name === 'sqlite_pool.connect').length).toBeGreaterThanOrEqual(2);

    // Nothing was lost at shutdown: every parent a span names arrived too (except the caller's own span).
    const orphans = spans.filter((s) => s.parentSpanId && s.parentSpanId !== CALLER_SPAN_ID && !byId.has(s.parentSpanId));
    expect(orphans.map((s) => s.name)).toEqual([]);
    // Every request the test made has its server span.
    expect(server('GET /stats').length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
