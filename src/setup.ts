/**
 * `otel-sqlite-pool/setup`: `startTelemetry()`, the OpenTelemetry SDK wired for a service that
 * uses the pool, built on `@opentelemetry/sdk-node` (an optional peer dependency, with
 * `@opentelemetry/exporter-prometheus`): the SDK reads the standard `OTEL_*` variables (service
 * name, resource attributes, OTLP endpoints, headers and protocol, sampler, propagators); this
 * file adds only what the SDK does not do: a Prometheus endpoint on loopback by default, and
 * traces off unless something says where they go.
 */
import { context, metrics, propagation, trace, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { NodeSDK, NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { ConfigurationError } from './errors.js';
import { MetricsEndpointError, MissingSdkError } from './setup/errors.js';
import { serveMetrics, type MetricsEndpoint } from './setup/metrics-endpoint.js';
import { loadSdk } from './setup/sdk-modules.js';
import { SqlitePoolInstrumentation, type SqlitePoolInstrumentationConfig } from './telemetry/instrumentation.js';

export { MetricsEndpointError, MissingSdkError };

/** Where the Prometheus endpoint listens. */
export interface PrometheusOptions {
  /**
   * The address to bind. Loopback unless told otherwise: `0.0.0.0` exposes the metrics to the network.
   * @default process.env.OTEL_EXPORTER_PROMETHEUS_HOST, else '127.0.0.1'
   */
  host?: string;
  /**
   * The port; `0` picks a free one (`metricsUrl` tells which).
   * @default process.env.OTEL_EXPORTER_PROMETHEUS_PORT, else 9464
   */
  port?: number;
  /**
   * The path Prometheus scrapes.
   * @default '/metrics'
   */
  endpoint?: string;
}

/** Options of {@link startTelemetry}; the SDK reads the `OTEL_*` variables for what is not given. */
export interface TelemetryOptions {
  /**
   * `service.name` of the resource; wins over `OTEL_SERVICE_NAME`.
   * @default process.env.OTEL_SERVICE_NAME, else the SDK's `unknown_service:node`
   */
  serviceName?: string;
  /**
   * More resource attributes. `OTEL_RESOURCE_ATTRIBUTES` is read too and wins over these, so an
   * operator can correct them without a code change.
   * @default {}
   */
  resourceAttributes?: Record<string, string | number | boolean>;
  /**
   * The Prometheus endpoint, or `false` for none (then no metrics are collected).
   * @default { host: '127.0.0.1', port: 9464, endpoint: '/metrics' } (host and port from the OTEL_EXPORTER_PROMETHEUS_ variables when set)
   */
  prometheus?: PrometheusOptions | false;
  /**
   * Spans go to this exporter, batched (`OTEL_BSP_*` tune the batching). Without it and without
   * `spanProcessors`, traces follow the environment when `OTEL_TRACES_EXPORTER`,
   * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and are off otherwise.
   * @default undefined
   */
  spanExporter?: NodeSDKConfiguration['traceExporter'];
  /**
   * Span processors to use instead (e.g. a `SimpleSpanProcessor` in tests); not with `spanExporter`.
   * @default undefined
   */
  spanProcessors?: NonNullable<NodeSDKConfiguration['spanProcessors']>;
  /**
   * @default from OTEL_TRACES_SAMPLER, else ParentBased(AlwaysOn)
   */
  sampler?: NodeSDKConfiguration['sampler'];
  /**
   * Options of the pool instrumentation.
   * @default {}
   */
  instrumentation?: Omit<SqlitePoolInstrumentationConfig, 'enabled' | 'tracerProvider' | 'meterProvider'>;
}

/** What {@link startTelemetry} started. `WithMetrics` is false when it was given `prometheus: false`. */
export interface Telemetry<WithMetrics extends boolean = boolean> {
  /** The started SDK. */
  readonly sdk: NodeSDK;
  /** The global tracer provider (the SDK's, behind the API's proxy). */
  readonly tracerProvider: TracerProvider;
  /** The global meter provider. */
  readonly meterProvider: MeterProvider;
  readonly instrumentation: SqlitePoolInstrumentation;
  /** The Prometheus exporter, when metrics are served. */
  readonly prometheus: WithMetrics extends true ? PrometheusExporter : undefined;
  /** Where Prometheus scrapes, with the port really bound, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly metricsUrl: WithMetrics extends true ? string : undefined;
  /**
   * Who decided where spans go: the `spanExporter` / `spanProcessors` options, the environment
   * (the SDK read `OTEL_TRACES_EXPORTER` and the OTLP variables), or nobody (`'off'`: no spans).
   */
  readonly traces: 'options' | 'environment' | 'off';
  /** Flushes spans and metrics, stops the endpoint and the SDK, and resets the globals. A second call waits for the first. */
  shutdown(): Promise<void>;
}

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'serviceName',
  'resourceAttributes',
  'prometheus',
  'spanExporter',
  'spanProcessors',
  'sampler',
  'instrumentation',
]);
const REMOVED_OPTIONS: Readonly<Record<string, string>> = {
  otlp: 'set OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_EXPORTER_OTLP_HEADERS), or pass spanExporter: new OTLPTraceExporter({ url, headers })',
  env: 'the SDK reads process.env; set the variables there',
};
/** Any of these set: the SDK configures traces from the environment. */
const TRACE_VARIABLES = ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;

/**
 * Starts the OpenTelemetry SDK (`@opentelemetry/sdk-node`) for a service that uses the pool:
 * the pool instrumentation, a Prometheus endpoint (loopback by default), traces where the options
 * or the `OTEL_*` variables send them, W3C propagation and async context, all registered
 * globally. Call it first thing at startup; `shutdown()` flushes everything.
 *
 * Rejects with {@link MissingSdkError} (naming the `npm install` line) when the SDK packages are
 * not installed, {@link MetricsEndpointError} when the endpoint cannot listen (a busy port), and
 * `ConfigurationError` for a bad option or variable; nothing is left registered then.
 */
export function startTelemetry(options: TelemetryOptions & { prometheus: false }): Promise<Telemetry<false>>;
export function startTelemetry(options?: TelemetryOptions & { prometheus?: PrometheusOptions }): Promise<Telemetry<true>>;
export function startTelemetry(options?: TelemetryOptions): Promise<Telemetry>;
export async function startTelemetry(options: TelemetryOptions = {}): Promise<Telemetry> {
  checkOptions(options);
  const withMetrics = options.prometheus !== false;
  const { sdkNode, prometheus: prometheusModule } = loadSdk('otel-sqlite-pool/setup', withMetrics ? ['sdkNode', 'prometheus'] : ['sdkNode']);

  // The endpoint first: a busy port fails before anything is registered globally.
  let exporter: PrometheusExporter | undefined;
  let endpoint: MetricsEndpoint | undefined;
  if (options.prometheus !== false && prometheusModule !== undefined) {
    const where = prometheusAddress(options.prometheus ?? {});
    exporter = new prometheusModule.PrometheusExporter({ preventServerStart: true });
    endpoint = await serveMetrics(exporter, where.host, where.port, where.endpoint);
  }

  const traces = tracesSource(options);
  const instrumentation = new SqlitePoolInstrumentation({ ...options.instrumentation, enabled: false });
  const sdk = new sdkNode.NodeSDK({
    ...(options.serviceName === undefined ? {} : { serviceName: options.serviceName }),
    resource: sdkNode.resources.defaultResource().merge(sdkNode.resources.resourceFromAttributes(options.resourceAttributes ?? {})),
    instrumentations: [instrumentation],
    metricReaders: exporter === undefined ? [] : [exporter],
    // This entry sets up traces and metrics; an empty list keeps the SDK from exporting logs by default.
    logRecordProcessors: [],
    ...(options.sampler === undefined ? {} : { sampler: options.sampler }),
    ...(options.spanProcessors !== undefined
      ? { spanProcessors: options.spanProcessors }
      : options.spanExporter !== undefined
        ? { traceExporter: options.spanExporter }
        : traces === 'off'
          ? { spanProcessors: [] }
          : {}),
  });
  try {
    sdk.start();
  } catch (error) {
    await endpoint?.close();
    throw error;
  }

  let stopped: Promise<void> | undefined;
  const telemetry: Telemetry = {
    sdk,
    tracerProvider: trace.getTracerProvider(),
    meterProvider: metrics.getMeterProvider(),
    instrumentation,
    prometheus: exporter,
    metricsUrl: endpoint?.url,
    traces,
    shutdown: () =>
      (stopped ??= (async () => {
        instrumentation.disable();
        await Promise.allSettled([sdk.shutdown(), endpoint?.close()]);
        // NodeSDK.shutdown() leaves its providers registered; a later start must be able to register anew.
        trace.disable();
        metrics.disable();
        context.disable();
        propagation.disable();
      })()),
  };
  return telemetry;
}

function checkOptions(options: TelemetryOptions): void {
  for (const key of Object.keys(options)) {
    if (OPTION_NAMES.has(key)) continue;
    const removed = REMOVED_OPTIONS[key];
    throw new ConfigurationError(
      key,
      (options as Record<string, unknown>)[key],
      removed === undefined ? `not an option of startTelemetry(); options are ${[...OPTION_NAMES].join(', ')}` : `removed (see CHANGELOG.md): ${removed}`,
    );
  }
  if (options.spanExporter !== undefined && options.spanProcessors !== undefined) {
    throw new ConfigurationError('spanExporter', options.spanExporter, 'not together with spanProcessors: give one, or add a BatchSpanProcessor of the exporter to spanProcessors');
  }
  const prometheus = options.prometheus;
  if (prometheus === undefined || prometheus === false) return;
  if (typeof prometheus !== 'object' || prometheus === null) {
    throw new ConfigurationError('prometheus', prometheus, 'expected { host?, port?, endpoint? } or false');
  }
  if (prometheus.host !== undefined && (typeof prometheus.host !== 'string' || prometheus.host.trim() === '')) {
    throw new ConfigurationError('prometheus.host', prometheus.host, 'expected an address such as 127.0.0.1 or 0.0.0.0');
  }
  if (prometheus.port !== undefined && !isPort(prometheus.port)) {
    throw new ConfigurationError('prometheus.port', prometheus.port, 'expected an integer from 0 to 65535');
  }
  if (prometheus.endpoint !== undefined && (typeof prometheus.endpoint !== 'string' || !prometheus.endpoint.startsWith('/'))) {
    throw new ConfigurationError('prometheus.endpoint', prometheus.endpoint, "expected a path starting with '/'");
  }
}

/**
 * Host and port from the options, else the exporter's own variables. The exporter would read them
 * itself, but we serve the endpoint (see setup/metrics-endpoint.ts), so we read them here, with a
 * loopback default instead of every interface.
 */
function prometheusAddress(options: PrometheusOptions): { host: string; port: number; endpoint: string } {
  const host = options.host ?? (process.env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim() || '127.0.0.1');
  let port = options.port;
  const fromEnv = process.env.OTEL_EXPORTER_PROMETHEUS_PORT?.trim();
  if (port === undefined && fromEnv) {
    const parsed = Number(fromEnv);
    if (!isPort(parsed)) throw new ConfigurationError('OTEL_EXPORTER_PROMETHEUS_PORT', fromEnv, 'expected a port number from 0 to 65535');
    port = parsed;
  }
  return { host, port: port ?? 9464, endpoint: options.endpoint ?? '/metrics' };
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

function tracesSource(options: TelemetryOptions): Telemetry['traces'] {
  if (options.spanExporter !== undefined || options.spanProcessors !== undefined) return 'options';
  return TRACE_VARIABLES.some((name) => (process.env[name] ?? '').trim() !== '') ? 'environment' : 'off';
}
