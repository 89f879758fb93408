import http from 'node:http';
import net from 'node:net';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { startTelemetry, type Telemetry } from '../../src/setup.js';
import { METRIC_DEFINITIONS, MICROSECOND_BUCKETS_SECONDS, prometheusName } from '../../src/telemetry/metric-definitions.js';
import { telemetryRegistry } from '../../src/telemetry/pool-telemetry.js';
import { onCleanup, usersPool } from './harness.js';

/** `startTelemetry()` from otel-sqlite-pool/setup: the Prometheus endpoint scraped over HTTP, traces flushed. */

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

async function start(options: Parameters<typeof startTelemetry>[0]): Promise<Telemetry> {
  const telemetry = await startTelemetry(options);
  onCleanup(() => telemetry.shutdown());
  return telemetry;
}

const PROMETHEUS_TYPE = { histogram: 'histogram', counter: 'counter', observableUpDownCounter: 'gauge', observableGauge: 'gauge' } as const;

describe('startTelemetry()', () => {
  it('serves every metric on the Prometheus endpoint with the documented names, labels and buckets', async () => {
    const port = await freePort();
    const exporter = new RecordingExporter();
    const telemetry = await start({ serviceName: 'setup-test', prometheus: { host: '127.0.0.1', port }, spanExporter: exporter, env: {} });
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(telemetry.tracesUrl).toBeUndefined();
    expect(telemetryRegistry.active).toBe(telemetry.instrumentation);

    const pool = await usersPool({ poolName: 'scraped', poolSize: 3, healthCheckConfig: { minHealthyConnections: 2, maxUsage: 4 } });
    await pool.initialize();
    for (let i = 0; i < 5; i++) await pool.run('INSERT INTO users (name) VALUES (?)', [`user${i}`]);
    await expect(pool.run('INSERT INTO users (name) VALUES (?)', ['ada'])).rejects.toThrow(/UNIQUE/);
    await pool.get('SELECT * FROM users WHERE id = ?', [1]);

    const { samples, types, contentType } = await scrape(telemetry.metricsUrl!);
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
    expect(buckets[0]!.labels).toMatchObject({ db_system_name: 'sqlite', db_namespace: pool.namespace, db_client_connection_pool_name: 'scraped' });
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
    const telemetry = await start({ prometheus: { host: '127.0.0.1', port }, spanExporter: exporter, env: {} });
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users WHERE id = ?', [1]);
    expect(exporter.spans).toEqual([]); // batched: nothing exported yet

    await telemetry.shutdown();
    const statement = exporter.spans.find((s) => s.name === 'SELECT users');
    expect(statement).toBeDefined();
    expect(statement!.resource.attributes['service.name']).toBe('otel-sqlite-pool-app');
    expect(exporter.spans.map((s) => s.name)).toContain('sqlite_pool.connect');
    expect(telemetryRegistry.active).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    await telemetry.shutdown(); // a second call is harmless
  });

  it('honours OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_PROMETHEUS_HOST/_PORT and OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const received: { url: string | undefined; method: string | undefined; bytes: number }[] = [];
    const collector = http.createServer((request, response) => {
      let bytes = 0;
      request.on('data', (chunk: Buffer) => (bytes += chunk.length));
      request.on('end', () => {
        received.push({ url: request.url, method: request.method, bytes });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => collector.close(resolve)));
    const collectorPort = (collector.address() as net.AddressInfo).port;
    const port = await freePort();

    const telemetry = await start({
      env: {
        OTEL_SERVICE_NAME: 'from-env',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=db%20tools',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}/`,
      },
    });
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(telemetry.tracesUrl).toBe(`http://127.0.0.1:${collectorPort}/v1/traces`);
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users');

    const { samples } = await scrape(`http://127.0.0.1:${port}/metrics`);
    const target = samples.find((s) => s.name === 'target_info');
    expect(target?.labels).toMatchObject({ service_name: 'from-env', deployment_environment_name: 'test', team: 'db tools' });

    await telemetry.shutdown();
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]).toMatchObject({ url: '/v1/traces', method: 'POST' });
    expect(received[0]!.bytes).toBeGreaterThan(0);
  });

  it('lets options win over the environment, reads only the env it is given, and rejects a bad port', async () => {
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'leaked=from-process-env');
    vi.stubEnv('OTEL_SERVICE_NAME', 'process-env-name');
    onCleanup(() => vi.unstubAllEnvs());
    const port = await freePort();
    const telemetry = await start({
      serviceName: 'from-options',
      prometheus: { host: '127.0.0.1', port, endpoint: '/prom' },
      env: { OTEL_SERVICE_NAME: 'from-env', OTEL_EXPORTER_PROMETHEUS_PORT: '1' },
    });
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/prom`);
    const { samples } = await scrape(telemetry.metricsUrl!);
    expect(samples.find((s) => s.name === 'target_info')?.labels.service_name).toBe('from-options');
    expect(samples.find((s) => s.name === 'target_info')?.labels.leaked).toBeUndefined();
    await telemetry.shutdown();

    await expect(startTelemetry({ env: { OTEL_EXPORTER_PROMETHEUS_PORT: 'ninety' } })).rejects.toBeInstanceOf(ConfigurationError);
    const none = await start({ prometheus: false, env: {} });
    expect(none.prometheus).toBeUndefined();
    expect(none.metricsUrl).toBeUndefined();
  });
});
