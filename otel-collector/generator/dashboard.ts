/**
 * The pool dashboard (grafana/dashboards/sqlite-pool.json), built with the Grafana Foundation
 * SDK's typed builders from the panel list in dashboard-panels.ts.
 */
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  PanelBuilder as GenericPanelBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DASHBOARD_ROWS, type PanelSpec } from './dashboard-panels.js';
import { PROMETHEUS_DATASOURCE_UID } from './grafana-alerts.js';
import { METRICS, POOL } from './metric-names.js';

const DATASOURCE = { type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID };

function thresholds(spec: PanelSpec): ThresholdsConfigBuilder {
  const steps =
    spec.okFrom !== undefined
      ? [{ value: null, color: 'red' }, { value: spec.okFrom, color: 'green' }]
      : [{ value: null, color: 'green' }, ...(spec.alarmFrom === undefined ? [] : [{ value: spec.alarmFrom.value, color: spec.alarmFrom.color }])];
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

function targets(spec: PanelSpec): DataqueryBuilder[] {
  return spec.queries.map((q) => new DataqueryBuilder().refId(q.refId).expr(q.expr).legendFormat(q.legend).datasource(DATASOURCE));
}

function statPanel(spec: PanelSpec, id: number, x: number, y: number): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    // Counts are whole numbers; ratios get Grafana's percent formatting.
    .decimals(spec.unit === 'percentunit' ? 1 : 0)
    .thresholds(thresholds(spec))
    .colorMode(BigValueColorMode.Background)
    .graphMode(BigValueGraphMode.None)
    .textMode(BigValueTextMode.ValueAndName)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .gridPos({ x, y, w: 3, h: 4 });
  // Only a declared meaning replaces Grafana's "No data": a pool that is not reporting shows that.
  if (spec.noValue !== undefined) panel.noValue(spec.noValue);
  for (const t of targets(spec)) panel.withTarget(t);
  return panel;
}

function timeseriesPanel(spec: PanelSpec, id: number, x: number, y: number, w: number): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .min(0)
    .thresholds(thresholds(spec))
    .fillOpacity(spec.stacked === true ? 40 : 10)
    .lineWidth(1)
    // A gap means "nothing to show" (the description says what); do not draw over it.
    .spanNulls(false)
    .stacking(new StackingConfigBuilder().mode(spec.stacked === true ? StackingMode.Normal : StackingMode.None))
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.Table).placement(LegendPlacement.Bottom).showLegend(true).calcs(['lastNotNull', 'max']))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
    .gridPos({ x, y, w, h: 8 });
  if (spec.max !== undefined) panel.max(spec.max);
  if (spec.noValue !== undefined) panel.noValue(spec.noValue);
  for (const t of targets(spec)) panel.withTarget(t);
  return panel;
}

function alertListPanel(id: number, y: number): GenericPanelBuilder {
  return new GenericPanelBuilder()
    .type('alertlist')
    .id(id)
    .title('Pool alerts')
    .description('Firing and pending alerts whose name starts with SqlitePool (Prometheus rules and Grafana-managed copies).')
    .options({
      viewMode: 'list',
      groupMode: 'default',
      maxItems: 20,
      sortOrder: 1,
      dashboardAlerts: false,
      alertName: 'SqlitePool',
      stateFilter: { firing: true, pending: true, noData: false, normal: false, error: true },
    })
    .gridPos({ x: 0, y, w: 24, h: 8 });
}

export function buildDashboard(): Dashboard {
  const dashboard = new DashboardBuilder('SQLite pool')
    .uid('sqlite-pool')
    .description('otel-sqlite-pool: connections, health checks, failed opens and timeouts, churn, wait and query times, leaks.')
    .tags(['sqlite', 'otel-sqlite-pool', 'opentelemetry'])
    .timezone('browser')
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .link(new DashboardLinkBuilder('Traces in Jaeger').type(DashboardLinkType.Link).url('http://127.0.0.1:16686/search').targetBlank(true).icon('external link'))
    .withVariable(
      new QueryVariableBuilder('pool')
        .label('Pool')
        .datasource(DATASOURCE)
        .query(`label_values(${METRICS.connectionCount}, ${POOL})`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
  let id = 1;
  let y = 0;
  for (const row of DASHBOARD_ROWS) {
    dashboard.withRow(new RowBuilder(row.title).id(id++).gridPos({ x: 0, y, w: 24, h: 1 }));
    y += 1;
    const stats = row.panels.every((p) => p.kind === 'stat');
    const width = stats ? 3 : row.panels.length === 3 ? 8 : 12;
    let x = 0;
    for (const spec of row.panels) {
      if (x + width > 24) {
        x = 0;
        y += 8;
      }
      dashboard.withPanel(spec.kind === 'stat' ? statPanel(spec, id++, x, y) : timeseriesPanel(spec, id++, x, y, width));
      x += width;
    }
    y += stats ? 4 : 8;
  }
  dashboard.withPanel(alertListPanel(id, y));
  return dashboard.build();
}

/** The file's text: the dashboard as JSON, the SDK's marker methods dropped by JSON.stringify. */
export function dashboardFile(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
