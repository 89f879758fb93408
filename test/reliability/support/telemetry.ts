/**
 * Real OpenTelemetry SDK pieces for the reliability tests: a metric reader collected on demand
 * (cumulative, so totals can be compared with the pool's own counters) and a span processor that
 * counts finished spans by name and status without keeping them.
 */
import { SpanStatusCode, type Attributes, type Context } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export class ManualMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Counts ended spans per name, and failed (status ERROR) ones per name. */
export class CountingSpanProcessor implements SpanProcessor {
  readonly ended = new Map<string, number>();
  readonly failed = new Map<string, number>();
  started = 0;

  onStart(_span: Span, _parentContext: Context): void {
    this.started++;
  }

  onEnd(span: ReadableSpan): void {
    this.ended.set(span.name, (this.ended.get(span.name) ?? 0) + 1);
    if (span.status.code === SpanStatusCode.ERROR) this.failed.set(span.name, (this.failed.get(span.name) ?? 0) + 1);
  }

  count(name: string): number {
    return this.ended.get(name) ?? 0;
  }

  failures(name: string): number {
    return this.failed.get(name) ?? 0;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TestTelemetry {
  readonly meterProvider: MeterProvider;
  readonly reader: ManualMetricReader;
  readonly tracerProvider: BasicTracerProvider;
  readonly spans: CountingSpanProcessor;
}

export function testTelemetry(): TestTelemetry {
  const reader = new ManualMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new CountingSpanProcessor();
  const tracerProvider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [spans] });
  return { meterProvider, reader, tracerProvider, spans };
}

/** One collection, flattened: every metric by name. */
export class CollectedMetrics {
  readonly #byName = new Map<string, MetricData>();

  constructor(metrics: MetricData[]) {
    for (const metric of metrics) this.#byName.set(metric.descriptor.name, metric);
  }

  static async collect(reader: MetricReader): Promise<CollectedMetrics> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    return new CollectedMetrics(resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics));
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Data points of a metric whose attributes include `where`. */
  points(name: string, where: Attributes = {}): { attributes: Attributes; value: unknown }[] {
    const metric = this.#byName.get(name);
    if (metric === undefined) return [];
    return (metric.dataPoints as { attributes: Attributes; value: unknown }[]).filter((point) =>
      Object.entries(where).every(([key, value]) => point.attributes[key] === value),
    );
  }

  /** Sum of a counter (or of a gauge's points) over the matching points. */
  sum(name: string, where: Attributes = {}): number {
    const metric = this.#byName.get(name);
    if (metric !== undefined && metric.dataPointType === DataPointType.HISTOGRAM) throw new Error(`${name} is a histogram`);
    return this.points(name, where).reduce((total, point) => total + (point.value as number), 0);
  }

  /** Number of recordings of a histogram over the matching points. */
  histogramCount(name: string, where: Attributes = {}): number {
    const metric = this.#byName.get(name);
    if (metric !== undefined && metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
    return this.points(name, where).reduce((total, point) => total + (point.value as { count: number }).count, 0);
  }
}
