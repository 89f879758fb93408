/**
 * Real OpenTelemetry SDK providers, set up the way users have them, plus the counting that lets a
 * contender prove it emitted the spans and metric points it was charged for.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

/** Discards every span but counts them by name. */
export class CountingSpanExporter implements SpanExporter {
  total = 0;
  readonly byName = new Map<string, number>();

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    for (const span of spans) this.byName.set(span.name, (this.byName.get(span.name) ?? 0) + 1);
    this.total += spans.length;
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A reader that only collects when asked (cumulative, so counts can be diffed). */
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

export interface Tracing {
  readonly provider: BasicTracerProvider;
  readonly exporter: CountingSpanExporter;
}

/**
 * AsyncLocalStorageContextManager registered globally, a BasicTracerProvider with the AlwaysOn
 * sampler and a BatchSpanProcessor (default settings) over the counting exporter.
 */
export function startTracing(): Tracing {
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  if (!context.setGlobalContextManager(contextManager)) {
    throw new Error('could not register the global context manager');
  }
  const exporter = new CountingSpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return { provider, exporter };
}

export interface Metrics {
  readonly provider: MeterProvider;
  readonly reader: ManualMetricReader;
}

export function startMetrics(): Metrics {
  const reader = new ManualMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  return { provider, reader };
}

/** Cumulative counts: spans by name; for metrics, histogram counts and counter sums by name. */
export interface TelemetrySnapshot {
  readonly spans: Record<string, number>;
  readonly metrics: Record<string, number>;
}

export async function snapshot(tracing?: Tracing, metrics?: Metrics): Promise<TelemetrySnapshot> {
  const spans: Record<string, number> = {};
  const points: Record<string, number> = {};
  if (tracing) {
    await tracing.provider.forceFlush();
    for (const [name, count] of tracing.exporter.byName) spans[name] = count;
  }
  if (metrics) {
    const { resourceMetrics, errors } = await metrics.reader.collect();
    if (errors.length > 0) throw new Error(`metric collection failed: ${String(errors[0])}`);
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        let total = 0;
        for (const point of metric.dataPoints) {
          if (metric.dataPointType === DataPointType.HISTOGRAM) {
            total += (point.value as { count: number }).count;
          } else if (metric.dataPointType === DataPointType.SUM) {
            total += point.value as number;
          }
        }
        if (
          metric.dataPointType === DataPointType.HISTOGRAM ||
          metric.dataPointType === DataPointType.SUM
        ) {
          points[metric.descriptor.name] = (points[metric.descriptor.name] ?? 0) + total;
        }
      }
    }
  }
  return { spans, metrics: points };
}

export function diff(after: TelemetrySnapshot, before: TelemetrySnapshot): TelemetrySnapshot {
  const sub = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(a)) {
      const d = v - (b[k] ?? 0);
      if (d !== 0) out[k] = d;
    }
    return out;
  };
  return { spans: sub(after.spans, before.spans), metrics: sub(after.metrics, before.metrics) };
}

/**
 * What one operation of a workload must emit. Each entry lists the allowed counts per operation;
 * a name listed in `spans` with 0 allowed may be absent. Span names not listed and not ignored fail.
 */
export interface Expectation {
  readonly spans?: Record<string, readonly number[]>;
  /** Background or occasional spans (health probes, connection creation): counted, not judged. */
  readonly ignoreSpans?: readonly string[];
  /**
   * Spans a few operations may emit, with a reason: at most `ceil(perOpAtMost × operations)` of
   * them (so a regression that emits one per operation, or per connection retirement, fails),
   * and the count is always reported. A name here must not also be in `spans`.
   */
  readonly occasionalSpans?: Record<string, { readonly perOpAtMost: number; readonly why: string }>;
  readonly metrics?: Record<string, readonly number[]>;
}

/** Throws a loud error when the counts are wrong; returns a one-line summary when right. */
export function verify(
  label: string,
  expectation: Expectation,
  ops: number,
  counts: TelemetrySnapshot,
): string {
  const problems: string[] = [];
  const parts: string[] = [];
  const judge = (kind: string, table: Record<string, readonly number[]>, got: Record<string, number>) => {
    for (const [name, allowed] of Object.entries(table)) {
      const n = got[name] ?? 0;
      const perOp = n / ops;
      if (!allowed.some((a) => a * ops === n)) {
        problems.push(
          `${kind} "${name}": ${n} for ${ops} operations (${perOp.toFixed(3)}/op), expected ${allowed.join(' or ')} per operation`,
        );
      } else if (n > 0) {
        parts.push(`${name} ${perOp}/op`);
      }
    }
  };
  const occasional = expectation.occasionalSpans ?? {};
  for (const [name, { perOpAtMost, why }] of Object.entries(occasional)) {
    const n = counts.spans[name] ?? 0;
    const most = Math.ceil(perOpAtMost * ops);
    if (n > most) {
      problems.push(`span "${name}": ${n} for ${ops} operations, expected at most ${most} (${perOpAtMost} per operation: ${why})`);
    } else {
      parts.push(`${name} ${n} in ${ops} ops (occasional, at most ${most}: ${why})`);
    }
  }
  if (expectation.spans) {
    judge('span', expectation.spans, counts.spans);
    const ignored = new Set(expectation.ignoreSpans ?? []);
    for (const [name, n] of Object.entries(counts.spans)) {
      if (name in expectation.spans || name in occasional) continue;
      if (ignored.has(name)) {
        parts.push(`(${name} ${n})`);
      } else {
        problems.push(`unexpected span "${name}": ${n} for ${ops} operations`);
      }
    }
  }
  if (expectation.metrics) {
    judge('metric points of', expectation.metrics, counts.metrics);
    // Other histograms and counters are shown per operation but not judged.
    for (const [name, n] of Object.entries(counts.metrics)) {
      if (!(name in expectation.metrics)) parts.push(`(${name} ${+(n / ops).toFixed(3)}/op)`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `TELEMETRY CHECK FAILED (${label}):\n  ${problems.join('\n  ')}\n  observed spans: ${JSON.stringify(counts.spans)}\n  observed metric points: ${JSON.stringify(counts.metrics)}`,
    );
  }
  return parts.length > 0 ? parts.join(', ') : 'nothing emitted, as expected';
}
