import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  AlwaysOnSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ConfigurationError } from './errors.js';
import { SqlitePoolInstrumentation, type SqlitePoolInstrumentationConfig } from './telemetry/instrumentation.js';

/** Options of {@link startTelemetry}. Environment variables fill what is not given. */
export interface TelemetryOptions {
  /**
   * `service.name` of the resource.
   * @default process.env.OTEL_SERVICE_NAME, else "otel-sqlite-pool-app"
   */
  serviceName?: string;
  /** More resource attributes (`OTEL_RESOURCE_ATTRIBUTES` is read too). */
  resourceAttributes?: Record<string, string | number | boolean>;
  /**
   * The Prometheus endpoint, or `false` for none. Binds to loopback unless told otherwise.
   * @default { host: OTEL_EXPORTER_PROMETHEUS_HOST ?? '127.0.0.1', port: OTEL_EXPORTER_PROMETHEUS_PORT ?? 9464, endpoint: '/metrics' }
   */
  prometheus?: { host?: string; port?: number; endpoint?: string } | false;
  /**
   * Traces over OTLP/HTTP. Without an endpoint (here or in `OTEL_EXPORTER_OTLP_ENDPOINT` /
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), no trace exporter is set up.
   * @default { endpoint: from the environment }
   */
  otlp?: { endpoint?: string; headers?: Record<string, string> };
  /** A span exporter to use instead of (or without) OTLP, e.g. an in-memory one in tests. */
  spanExporter?: SpanExporter;
  /** Span processors to add (e.g. a SimpleSpanProcessor in tests). */
  spanProcessors?: SpanProcessor[];
  /** @default ParentBased(AlwaysOn) */
  sampler?: Sampler;
  /** Options for the pool instrumentation. */
  instrumentation?: Omit<SqlitePoolInstrumentationConfig, 'tracerProvider' | 'meterProvider'>;
  /** Environment to read (`process.env` by default). */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface Telemetry {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly instrumentation: SqlitePoolInstrumentation;
  /** The Prometheus exporter, when one was started. */
  readonly prometheus: PrometheusExporter | undefined;
  /** Where Prometheus can scrape, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly metricsUrl: string | undefined;
  /** Where traces go, when an OTLP endpoint is configured. */
  readonly tracesUrl: string | undefined;
  /** Flushes spans and metrics and stops the exporters. */
  shutdown(): Promise<void>;
}

/**
 * Wires the OpenTelemetry SDK for a service that uses the pool: a tracer provider (batching,
 * OTLP/HTTP when an endpoint is configured), a meter provider with a Prometheus endpoint,
 * W3C trace-context propagation, async context, and the pool instrumentation, all registered
 * globally. Call it first thing at startup; `shutdown()` flushes everything.
 */
export async function startTelemetry(options: TelemetryOptions = {}): Promise<Telemetry> {
  const env = options.env ?? process.env;
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, as every OpenTelemetry SDK reads them, but
  // from `env` (the SDK's envDetector would read process.env whatever `env` says).
  const serviceName = options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'otel-sqlite-pool-app';
  const resource = defaultResource()
    .merge(resourceFromAttributes(resourceAttributesFrom(env.OTEL_RESOURCE_ATTRIBUTES)))
    .merge(resourceFromAttributes({ ...options.resourceAttributes, 'service.name': serviceName }));

  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const tracesUrl = otlpTracesUrl(options.otlp?.endpoint, env);
  if (tracesUrl !== undefined) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl, headers: options.otlp?.headers })));
  }
  if (options.spanExporter !== undefined) processors.push(new BatchSpanProcessor(options.spanExporter));
  const tracerProvider = new BasicTracerProvider({
    resource,
    sampler: options.sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: processors,
  });

  let prometheus: PrometheusExporter | undefined;
  let metricsUrl: string | undefined;
  if (options.prometheus !== false) {
    const host = options.prometheus?.host ?? env.OTEL_EXPORTER_PROMETHEUS_HOST ?? '127.0.0.1';
    const port = options.prometheus?.port ?? portFrom(env.OTEL_EXPORTER_PROMETHEUS_PORT) ?? 9464;
    const endpoint = options.prometheus?.endpoint ?? '/metrics';
    prometheus = await new Promise<PrometheusExporter>((resolve, reject) => {
      const exporter: PrometheusExporter = new PrometheusExporter({ host, port, endpoint }, (error) => (error ? reject(error) : resolve(exporter)));
    });
    metricsUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}${endpoint}`;
  }
  const meterProvider = new MeterProvider({ resource, readers: prometheus === undefined ? [] : [prometheus] });

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);

  const instrumentation = new SqlitePoolInstrumentation({ ...options.instrumentation, enabled: false, tracerProvider, meterProvider });
  instrumentation.enable();

  let stopped: Promise<void> | undefined;
  return {
    tracerProvider,
    meterProvider,
    instrumentation,
    prometheus,
    metricsUrl,
    tracesUrl,
    shutdown: () =>
      (stopped ??= (async () => {
        instrumentation.disable();
        await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
        trace.disable();
        metrics.disable();
        context.disable();
        propagation.disable();
      })()),
  };
}

function otlpTracesUrl(endpoint: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (endpoint !== undefined) return endpoint.endsWith('/v1/traces') ? endpoint : `${endpoint.replace(/\/$/, '')}/v1/traces`;
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return specific;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/$/, '')}/v1/traces` : undefined;
}

/** `key=value,key2=value2`, percent-encoded, as the SDK's envDetector parses it; bad entries are skipped. */
function resourceAttributesFrom(value: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const entry of (value ?? '').split(',')) {
    const parts = entry.split('=');
    if (parts.length !== 2 || (parts[0] as string).trim() === '') continue;
    try {
      attributes[decodeURIComponent((parts[0] as string).trim())] = decodeURIComponent((parts[1] as string).trim());
    } catch {
      // not valid percent-encoding: skip the entry
    }
  }
  return attributes;
}

function portFrom(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigurationError('OTEL_EXPORTER_PROMETHEUS_PORT', value, 'expected a port number from 0 to 65535');
  }
  return port;
}
