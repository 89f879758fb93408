/**
 * One set of metric names: rules, dashboard and Grafana alerts may only name series the package
 * emits on the path we ship (the app's own /metrics endpoint), derived from METRIC_DEFINITIONS
 * with prometheusName(). And prometheusName() itself is checked against the installed
 * @opentelemetry/exporter-prometheus, so the derivation cannot drift from what is served.
 */
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS, prometheusName } from '../../src/telemetry/metric-definitions.js';
import {
  expectedLabelNames,
  expectedSeriesNames,
  labelName,
  namesInPromQL,
  unknownNames,
  unknownTemplateLabels,
} from './promql-names.js';
import {
  PATHS,
  arr,
  dashboardExpressions,
  dashboardPanels,
  dashboardVariableQueries,
  grafanaAlertExpressions,
  grafanaAlertRules,
  obj,
  prometheusAlertRules,
  readJson,
  readYaml,
  str,
  substituteGrafanaVariables,
} from './stack-files.js';

function shippedExpressions(): { source: string; expr: string }[] {
  const dashboard = readJson(PATHS.dashboard);
  return [
    ...prometheusAlertRules(readYaml(PATHS.alertRules)).map((r) => ({ source: `rule ${r.alert}`, expr: r.expr })),
    ...dashboardExpressions(dashboard).map((e) => ({ ...e, expr: substituteGrafanaVariables(e.expr) })),
    ...dashboardVariableQueries(dashboard),
    ...grafanaAlertExpressions(readYaml(PATHS.grafanaAlerts)),
  ];
}

function shippedTemplates(): { source: string; text: string }[] {
  const out: { source: string; text: string }[] = [];
  for (const r of prometheusAlertRules(readYaml(PATHS.alertRules))) {
    for (const [k, v] of Object.entries(r.annotations)) out.push({ source: `rule ${r.alert} ${k}`, text: v });
  }
  for (const r of grafanaAlertRules(readYaml(PATHS.grafanaAlerts))) {
    for (const [k, v] of Object.entries(obj(r.raw['annotations'], 'annotations'))) {
      out.push({ source: `Grafana alert ${r.title} ${k}`, text: str(v, k) });
    }
  }
  for (const panel of dashboardPanels(readJson(PATHS.dashboard))) {
    for (const t of arr(panel['targets'] ?? [], 'targets')) {
      const legend = obj(t, 'target')['legendFormat'];
      if (typeof legend === 'string') out.push({ source: `panel ${String(panel['title'])} legend`, text: legend });
    }
  }
  return out;
}

describe('names derived from METRIC_DEFINITIONS', () => {
  it('gives the names @opentelemetry/exporter-prometheus serves for every metric', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    const meter = provider.getMeter('otel-sqlite-pool-stack-test');
    const attributes = { 'db.client.connection.pool.name': 'main' };
    for (const d of METRIC_DEFINITIONS) {
      const options = { unit: d.unit, description: d.description };
      switch (d.kind) {
        case 'histogram':
          meter.createHistogram(d.name, options).record(0.001, attributes);
          break;
        case 'counter':
          meter.createCounter(d.name, options).add(1, attributes);
          break;
        case 'observableUpDownCounter':
          meter.createObservableUpDownCounter(d.name, options).addCallback((r) => r.observe(1, attributes));
          break;
        case 'observableGauge':
          meter.createObservableGauge(d.name, options).addCallback((r) => r.observe(1, attributes));
          break;
      }
    }
    const { resourceMetrics, errors } = await exporter.collect();
    expect(errors).toEqual([]);
    const text = new PrometheusSerializer().serialize(resourceMetrics);
    await provider.shutdown();

    const served = new Set<string>();
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/.exec(line);
      if (!m || m[1] === 'target_info') continue;
      served.add(m[1]!);
      expect(m[2], line).toContain(`${labelName('db.client.connection.pool.name')}="main"`);
    }
    expect([...served].sort()).toEqual([...expectedSeriesNames()].sort());
  });

  it('has the shapes the rules rely on', () => {
    const names = expectedSeriesNames();
    expect(names.has('db_client_connection_timeouts_total')).toBe(true);
    expect(names.has('db_client_connection_wait_time_bucket')).toBe(true);
    expect(names.has('db_client_connection_wait_time')).toBe(false); // histograms only as _bucket/_sum/_count
    expect(names.has('db_client_connection_wait_time_seconds_bucket')).toBe(false); // the collector default
    expect(expectedLabelNames().has('db_client_connection_pool_name')).toBe(true);
    expect(prometheusName({ name: 'sqlite_pool.connection.leaks', kind: 'counter' })).toBe(
      'sqlite_pool_connection_leaks_total',
    );
  });
});

describe('names used by rules, dashboard and Grafana alerts', () => {
  it('classifies metric and label names in PromQL', () => {
    expect(
      namesInPromQL(
        'histogram_quantile(0.99, sum by (db_client_connection_pool_name, le) (rate(db_client_operation_duration_bucket{db_operation_name="SELECT"}[5m]))) > on (db_client_connection_pool_name) group_left sqlite_pool_x',
      ),
    ).toEqual([
      { name: 'db_client_connection_pool_name', role: 'label' },
      { name: 'le', role: 'label' },
      { name: 'db_client_operation_duration_bucket', role: 'metric' },
      { name: 'db_operation_name', role: 'label' },
      { name: 'db_client_connection_pool_name', role: 'label' },
      { name: 'sqlite_pool_x', role: 'metric' },
    ]);
    expect(namesInPromQL('label_values(db_client_connection_count, db_client_connection_pool_name)')).toEqual([
      { name: 'db_client_connection_pool_name', role: 'label' },
      { name: 'db_client_connection_count', role: 'metric' },
    ]);
  });

  it('rejects a metric or label that does not exist (negative cases on synthetic rules)', () => {
    const bad = [
      { source: 'counter without _total', expr: 'increase(db_client_connection_timeouts[5m]) > 0' },
      { source: 'collector-style unit suffix', expr: 'rate(db_client_operation_duration_seconds_bucket[5m])' },
      { source: 'bare histogram name', expr: 'db_client_connection_wait_time > 0' },
      { source: 'invented metric', expr: 'sqlite_pool_connections_unhealthy > 0' },
      { source: 'wrong label', expr: 'sqlite_pool_connection_health{sqlite_pool_connection_state="unhealthy"}' },
      { source: 'wrong grouping label', expr: 'sum by (db_client_pool_name) (db_client_connection_count)' },
    ];
    const problems = unknownNames(bad);
    expect(problems).toEqual([
      'counter without _total: metric db_client_connection_timeouts is not emitted by the package',
      'collector-style unit suffix: metric db_client_operation_duration_seconds_bucket is not emitted by the package',
      'bare histogram name: metric db_client_connection_wait_time is not emitted by the package',
      'invented metric: metric sqlite_pool_connections_unhealthy is not emitted by the package',
      'wrong label: label sqlite_pool_connection_state is not carried by any pool metric',
      'wrong grouping label: label db_client_pool_name is not carried by any pool metric',
    ]);
    expect(unknownTemplateLabels([{ source: 'summary', text: 'pool {{ $labels.db_client_pool }}' }])).toEqual([
      'summary: label db_client_pool does not exist',
    ]);
  });

  it('every metric and label in rules, dashboard, variable queries and Grafana alerts exists', () => {
    const exprs = shippedExpressions();
    expect(exprs.length).toBeGreaterThan(30);
    expect(unknownNames(exprs)).toEqual([]);
    expect(unknownTemplateLabels(shippedTemplates())).toEqual([]);
  });

  it('the dashboard shows every metric the package emits', () => {
    const dashboard = readJson(PATHS.dashboard);
    const used = new Set(
      dashboardExpressions(dashboard).flatMap((e) =>
        namesInPromQL(substituteGrafanaVariables(e.expr))
          .filter((u) => u.role === 'metric')
          .map((u) => u.name),
      ),
    );
    const missing = METRIC_DEFINITIONS.filter((d) => {
      const name = prometheusName(d);
      return d.kind === 'histogram'
        ? !['_bucket', '_sum', '_count'].some((s) => used.has(name + s))
        : !used.has(name);
    }).map((d) => d.name);
    expect(missing).toEqual([]);
  });
});
