import http from 'node:http';
import net from 'node:net';
import { trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { MetricsEndpointError, startTelemetry, type Telemetry } from '../../src/setup.js';
import { METRIC_DEFINITIONS, MICROSECOND_BUCKETS_SECONDS, prometheusName } from '../../src/telemetry/metric-definitions.js';
import { telemetryRegistry } from '../../src/telemetry/pool-telemetry.js';
import { onCleanup, usersPool } from './harness.js';

/**
 * `startTelemetry()` from otel-sqlite-pool/setup (on @opentelemetry/sdk-node): the Prometheus
 * endpoint scraped over HTTP, traces flushed, the OTEL_* variables read by the SDK, and the
 * failures (a busy port, bad options) reported by name with nothing left registered.
 */

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Keeps every span it is given, even after shutdown (InMemorySpanExporter forgets them then). */
class RecordingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text exposition format (0.0.4): samples and `# TYPE` lines. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    expect(match, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const label of (match![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match![3]!;
    samples.push({ name: match![1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return { samples, types };
}

async function scrape(url: string): Promise<{ samples: Sample[]; types: Map<string, string>; contentType: string | null }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return { ...parsePrometheus(await response.text()), contentType: response.headers.get('content-type') };
}

async function start<T extends Telemetry>(started: Promise<T>): Promise<T> {
  const telemetry = await started;
  onCleanup(() => telemetry.shutdown());
  return telemetry;
}

/** Every OTEL_ variable of the test process unset, so that only what a test sets reaches the SDK. */
function clearOtelEnvironment(): void {
  for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) vi.stubEnv(name, undefined);
  onCleanup(() => vi.unstubAllEnvs());
}

/** An HTTP server that keeps what it is sent, like an OTLP/HTTP receiver. */
async function receiver(): Promise<{ port: number; received: { url: string | undefined; method: string | undefined; bytes: number }[] }> {
  const received: { url: string | undefined; method: string | undefined; bytes: number }[] = [];
  const server = http.createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      received.push({ url: request.url, method: request.method, bytes });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as net.AddressInfo).port, received };
}

const PROMETHEUS_TYPE = { histogram: 'histogram', counter: 'counter', observableUpDownCounter: 'gauge', observableGauge: 'gauge' } as const;

describe('startTelemetry()', () => {
  beforeEach(clearOtelEnvironment);

  it('serves every metric on the Prometheus endpoint with the documented names, labels and buckets', async () => {
    const port = await freePort();
    const exporter = new RecordingExporter();
    const telemetry = await start(startTelemetry({ serviceName: 'setup-test', prometheus: { host: '127.0.0.1', port }, spanExporter: exporter }));
    expectTypeOf(telemetry.metricsUrl).toEqualTypeOf<string>();
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(telemetry.traces).toBe('options');
    expect(telemetryRegistry.active).toBe(telemetry.instrumentation);

    const pool = await usersPool({ poolName: 'scraped', poolSize: 3, healthCheckConfig: { minHealthyConnections: 2, maxUsage: 4 } });
    await pool.initialize();
    for (let i = 0; i < 5; i++) await pool.run('INSERT INTO users (name) VALUES (?)', [`user${i}`]);
    await expect(pool.run('INSERT INTO users (name) VALUES (?)', ['ada'])).rejects.toThrow(/UNIQUE/);
    await pool.get('SELECT * FROM users WHERE id = ?', [1]);

    const { samples, types, contentType } = await scrape(telemetry.metricsUrl);
    expect(contentType).toMatch(/^text\/plain/);
    const ours = samples.filter((s) => s.labels.otel_scope_name === 'otel-sqlite-pool');
    for (const def of METRIC_DEFINITIONS) {
      const family = prometheusName(def);
      expect(types.get(family), `# TYPE ${family}`).toBe(PROMETHEUS_TYPE[def.kind]);
      const names = def.kind === 'histogram' ? [`${family}_bucket`, `${family}_sum`, `${family}_count`] : [family];
      for (const name of names) {
        const series = ours.filter((s) => s.name === name);
        expect(series.length, name).toBeGreaterThan(0);
        for (const s of series) expect(s.labels.db_client_connection_pool_name, name).toBe('scraped');
      }
    }
    // Nothing of ours is served under a name the definitions do not give.
    const known = new Set(METRIC_DEFINITIONS.flatMap((d) => (d.kind === 'histogram' ? ['_bucket', '_sum', '_count'] : ['']).map((x) => prometheusName(d) + x)));
    expect(ours.filter((s) => !known.has(s.name)).map((s) => s.name)).toEqual([]);

    // The buckets served are the advice: from 10 µs, then +Inf.
    const inserts = (name: string): Sample[] =>
      ours.filter((s) => s.name === name && s.labels.db_operation_name === 'INSERT' && s.labels.error_type === undefined);
    const buckets = inserts('db_client_operation_duration_bucket');
    expect(buckets.map((s) => s.labels.le)).toEqual([...MICROSECOND_BUCKETS_SECONDS.map(String), '+Inf']);
    expect(buckets[0]!.labels.le).toBe('0.00001');
    expect(buckets.map((s) => (s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)))).toEqual([...MICROSECOND_BUCKETS_SECONDS, Infinity]);
    expect(buckets.at(-1)!.value).toBe(5);
    expect(buckets.map((s) => s.value)).toEqual([...buckets.map((s) => s.value)].sort((a, b) => a - b)); // cumulative
    expect(inserts('db_client_operation_duration_count')[0]!.value).toBe(5);
    expect(buckets[0]!.labels).toMatchObject({ db_system_name: 'sqlite', db_namespace: 'app.db', db_client_connection_pool_name: 'scraped' });
    const failed = ours.find((s) => s.name === 'db_client_operation_duration_count' && s.labels.error_type === 'SQLITE_CONSTRAINT_UNIQUE');
    expect(failed?.value).toBe(1);
    // the lifetime histogram has its own buckets
    expect(ours.filter((s) => s.name === 'sqlite_pool_connection_lifetime_bucket').map((s) => s.labels.le)[0]).toBe('0.01');

    const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
      ours.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('db_client_connection_max')).toBe(3);
    expect(value('db_client_connection_idle_min')).toBe(2);
    expect(value('db_client_connection_timeouts_total')).toBe(0);
    expect(value('sqlite_pool_connection_leaks_total')).toBe(0);
    expect(value('sqlite_pool_connection_closed_total', { sqlite_pool_close_reason: 'max_usage' })).toBe(1);
    expect(value('sqlite_pool_connection_closed_total', { sqlite_pool_close_reason: 'shutdown' })).toBe(0);
    expect(value('db_client_connection_count', { db_client_connection_state: 'idle' })).toBe(2);
    expect(value('sqlite_pool_connection_health', { sqlite_pool_connection_status: 'healthy' })).toBe(2);
    expect(value('sqlite_pool_connection_health', { sqlite_pool_connection_status: 'stale' })).toBe(0);
    expect(samples.find((s) => s.name === 'target_info')?.labels.service_name).toBe('setup-test');
  });

  it('flushes spans on shutdown(), stops the endpoint and resets the globals', async () => {
    const port = await freePort();
    const exporter = new RecordingExporter();
    const telemetry = await start(startTelemetry({ prometheus: { host: '127.0.0.1', port }, spanExporter: exporter }));
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users WHERE id = ?', [1]);
    expect(exporter.spans).toEqual([]); // batched: nothing exported yet

    await telemetry.shutdown();
    const statement = exporter.spans.find((s) => s.name === 'SELECT users');
    expect(statement).toBeDefined();
    // No service name anywhere: the SDK's default, as every OpenTelemetry SDK names it.
    expect(statement!.resource.attributes['service.name']).toMatch(/^unknown_service/);
    expect(exporter.spans.map((s) => s.name)).toContain('sqlite_pool.connect');
    expect(telemetryRegistry.active).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    await telemetry.shutdown(); // a second call is harmless
  });

  it('leaves OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the OTLP variables to the SDK, and reads the Prometheus host and port', async () => {
    const collector = await receiver();
    const port = await freePort();
    vi.stubEnv('OTEL_SERVICE_NAME', 'from-env');
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'deployment.environment.name=test,team=db%20tools');
    vi.stubEnv('OTEL_EXPORTER_PROMETHEUS_HOST', '127.0.0.1');
    vi.stubEnv('OTEL_EXPORTER_PROMETHEUS_PORT', String(port));
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', `http://127.0.0.1:${collector.port}/`);

    const telemetry = await start(startTelemetry({ resourceAttributes: { team: 'overridden by the environment', 'service.version': '1.2.3' } }));
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(telemetry.traces).toBe('environment');
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users');

    const { samples } = await scrape(`http://127.0.0.1:${port}/metrics`);
    const target = samples.find((s) => s.name === 'target_info');
    expect(target?.labels).toMatchObject({ service_name: 'from-env', deployment_environment_name: 'test', team: 'db tools', service_version: '1.2.3' });

    await telemetry.shutdown();
    expect(collector.received.length).toBeGreaterThan(0);
    expect(collector.received[0]).toMatchObject({ url: '/v1/traces', method: 'POST' });
    expect(collector.received[0]!.bytes).toBeGreaterThan(0);
  });

  it('exports no spans when nothing says where they go', async () => {
    const collector = await receiver();
    const telemetry = await start(startTelemetry({ prometheus: false }));
    expect(telemetry.traces).toBe('off');
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users');
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    await telemetry.shutdown();
    expect(collector.received).toEqual([]);
  });

  it('lets options win over the environment, and binds port 0 to a free port that metricsUrl names', async () => {
    vi.stubEnv('OTEL_SERVICE_NAME', 'process-env-name');
    vi.stubEnv('OTEL_EXPORTER_PROMETHEUS_PORT', '1');
    const telemetry = await start(startTelemetry({ serviceName: 'from-options', prometheus: { host: '127.0.0.1', port: 0, endpoint: '/prom' } }));
    const bound = Number(new URL(telemetry.metricsUrl).port);
    expect(bound).toBeGreaterThan(1);
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${bound}/prom`);
    const { samples } = await scrape(telemetry.metricsUrl);
    expect(samples.find((s) => s.name === 'target_info')?.labels.service_name).toBe('from-options');
    expect((await fetch(`http://127.0.0.1:${bound}/metrics`)).status).toBe(404);
  });

  it('without Prometheus: no endpoint, and the types say so', async () => {
    const none = await start(startTelemetry({ prometheus: false }));
    expectTypeOf(none.metricsUrl).toEqualTypeOf<undefined>();
    expect(none.prometheus).toBeUndefined();
    expect(none.metricsUrl).toBeUndefined();
  });

  it('a busy port rejects with MetricsEndpointError naming OTEL_EXPORTER_PROMETHEUS_PORT, and registers nothing', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => busy.close(resolve)));
    const port = (busy.address() as net.AddressInfo).port;
    vi.stubEnv('OTEL_EXPORTER_PROMETHEUS_PORT', String(port));

    const error = await startTelemetry().then(
      (telemetry) => telemetry.shutdown().then(() => undefined),
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(MetricsEndpointError);
    expect(error).toMatchObject({ code: 'SQLITE_POOL_METRICS_LISTEN_FAILED', host: '127.0.0.1', port, cause: { code: 'EADDRINUSE' } });
    expect((error as Error).message).toContain('OTEL_EXPORTER_PROMETHEUS_PORT');
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect(telemetryRegistry.active).toBeUndefined();

    // Nothing was left half-started: the next start, on a free port, works.
    vi.stubEnv('OTEL_EXPORTER_PROMETHEUS_PORT', '0');
    const telemetry = await start(startTelemetry());
    expect((await fetch(telemetry.metricsUrl)).status).toBe(200);
  });

  it('refuses bad options and variables with ConfigurationError naming them', async () => {
    const refused = async (options: unknown): Promise<ConfigurationError> => {
      const error = await startTelemetry(options as Parameters<typeof startTelemetry>[0]).then(
        (telemetry) => telemetry.shutdown().then(() => undefined),
        (rejection: unknown) => rejection,
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      return error as ConfigurationError;
    };
    expect((await refused({ prometheus: { port: 70_000 } })).option).toBe('prometheus.port');
    expect((await refused({ prometheus: { endpoint: 'metrics' } })).option).toBe('prometheus.endpoint');
    expect((await refused({ prometheus: { host: '' } })).option).toBe('prometheus.host');
    expect((await refused({ prometheus: true })).option).toBe('prometheus');
    expect((await refused({ servicename: 'typo' })).message).toMatch(/Invalid servicename.*serviceName/);
    expect((await refused({ otlp: { endpoint: 'http://127.0.0.1:4318' } })).message).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect((await refused({ spanExporter: new RecordingExporter(), spanProcessors: [] })).option).toBe('spanExporter');
    vi.stubEnv('OTEL_EXPORTER_PROMETHEUS_PORT', 'ninety');
    expect((await refused({})).option).toBe('OTEL_EXPORTER_PROMETHEUS_PORT');
    expect(telemetryRegistry.active).toBeUndefined();
  });
});
