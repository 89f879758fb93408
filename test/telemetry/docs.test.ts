import fs from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { SqlitePoolInstrumentationConfig } from '../../src/telemetry/instrumentation.js';
import { CLOSE_REASONS, LIFETIME_BUCKETS_SECONDS, METRIC_DEFINITIONS, MICROSECOND_BUCKETS_SECONDS, prometheusName, type MetricDefinition } from '../../src/telemetry/metric-definitions.js';
import { SPAN_ACQUIRE, SPAN_CONNECT, SPAN_HEALTH_CHECK, SPAN_MONITOR_CYCLE } from '../../src/telemetry/semconv.js';

/** docs/telemetry.md must name every metric, Prometheus name, span and option the code has. */

const docs = fs.readFileSync(new URL('../../docs/telemetry.md', import.meta.url), 'utf8');

const INSTRUMENT = { histogram: 'histogram', counter: 'counter', observableUpDownCounter: 'observable up-down counter', observableGauge: 'observable gauge' } as const;
const PROMETHEUS_TYPE = { histogram: 'histogram', counter: 'counter', observableUpDownCounter: 'gauge', observableGauge: 'gauge' } as const;

function servedNames(definition: MetricDefinition): string[] {
  const name = prometheusName(definition);
  return definition.kind === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

/** The cells of the metric table's row for `name`. */
function row(name: string): string[] {
  const line = docs.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
  expect(line, `a row for ${name} in the metric table`).toBeDefined();
  return line!.split('|').slice(1, -1).map((cell) => cell.trim());
}

describe('docs/telemetry.md', () => {
  it.each(METRIC_DEFINITIONS.map((d) => [d.name, d] as const))('documents %s with its Prometheus name', (name, definition) => {
    expect(docs).toContain(`\`${name}\``);
    for (const served of servedNames(definition)) expect(docs, served).toContain(`\`${served}\``);
    const [, instrument, unit, attributes, prometheus] = row(name);
    expect(instrument).toBe(INSTRUMENT[definition.kind]);
    expect(unit).toBe(`\`${definition.unit}\``);
    expect(attributes).toBe(definition.attributes.length === 0 ? '–' : definition.attributes.map((a) => `\`${a}\``).join(', '));
    expect(prometheus).toBe(`${servedNames(definition).map((n) => `\`${n}\``).join(', ')} (${PROMETHEUS_TYPE[definition.kind]})`);
  });

  it('has no metric row the definitions do not have', () => {
    const table = docs.split('\n').filter((l) => /^\| `(db|sqlite_pool)\.[a-z_.]+` \| (histogram|counter|observable)/.test(l));
    expect(table.map((l) => /^\| `([^`]+)`/.exec(l)![1]).sort()).toEqual(METRIC_DEFINITIONS.map((d) => d.name).sort());
  });

  it('documents every span, close reason and bucket boundary', () => {
    for (const span of [SPAN_ACQUIRE, SPAN_CONNECT, SPAN_HEALTH_CHECK, SPAN_MONITOR_CYCLE]) expect(docs).toContain(`### \`${span}\``);
    for (const reason of CLOSE_REASONS) expect(docs).toContain(`\`${reason}\``);
    for (const bound of [...MICROSECOND_BUCKETS_SECONDS, ...LIFETIME_BUCKETS_SECONDS]) expect(docs).toContain(`\`${bound}\``);
  });

  it('documents every option of SqlitePoolInstrumentation', () => {
    const options = [
      'enabled',
      'requireParentSpan',
      'enhancedDatabaseReporting',
      'dbNamespace',
      'maxQueryLength',
      'requestHook',
      'responseHook',
      'ignoreAcquireSpans',
      'healthCheckSpans',
      'operationDurationBuckets',
      'poolName',
      'tracerProvider',
      'meterProvider',
    ] as const;
    // fails to compile when an option is added to the config and not to this list
    expectTypeOf<Exclude<keyof SqlitePoolInstrumentationConfig, (typeof options)[number]>>().toEqualTypeOf<never>();
    for (const option of options) expect(docs, option).toMatch(new RegExp(`^\\| \`${option}(\\(span, info\\))?\` \\|`, 'm'));
  });
});
