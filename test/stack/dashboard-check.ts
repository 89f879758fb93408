/**
 * Evaluates every query of the committed dashboard for one pool against a real Prometheus, the
 * way Grafana would send it (variables substituted, windows scaled), and reports what a user would
 * see wrong: NaN or infinite values, or no data where the panel should show something. An empty
 * result passes only for a query that declares when it may be empty (dashboard-panels.ts) and
 * when that condition holds now (nothing was observed, or the pool has no connection).
 */
import { DASHBOARD_ROWS, type PanelQuery } from '../../otel-collector/generator/dashboard-panels.js';
import type { PrometheusServer } from './prometheus-server.js';
import { DASHBOARD_RANGE, RATE_INTERVAL, scaleDurations } from './scaled-time.js';
import { PATHS, arr, dashboardPanels, obj, readJson, str, substituteGrafanaVariables } from './stack-files.js';

export interface EvaluatedQuery {
  readonly source: string;
  readonly samples: number;
  readonly problem?: string;
}

function specOf(title: string, refId: string): PanelQuery | undefined {
  for (const row of DASHBOARD_ROWS) {
    for (const panel of row.panels) if (panel.title === title) return panel.queries.find((q) => q.refId === refId);
  }
  return undefined;
}

/**
 * Every query of the shipped dashboard, for `pool`, evaluated at one instant a second ago (so a
 * query and its `empty.when` see the same, fully ingested samples).
 */
export async function evaluateDashboard(prometheus: PrometheusServer, pool: string): Promise<EvaluatedQuery[]> {
  const at = Date.now() / 1000 - 1;
  // Literal windows first (`[5m]`), then the variables, whose values are scaled already.
  const concrete = (expr: string): string =>
    substituteGrafanaVariables(scaleDurations(expr), { pool, __rate_interval: RATE_INTERVAL, __range: DASHBOARD_RANGE });
  const out: EvaluatedQuery[] = [];
  for (const panel of dashboardPanels(readJson(PATHS.dashboard))) {
    for (const t of arr(panel['targets'] ?? [], 'targets')) {
      const target = obj(t, 'target');
      const title = str(panel['title'], 'title');
      const refId = str(target['refId'], 'refId');
      const source = `"${title}" ${refId}`;
      const samples = await prometheus.query(concrete(str(target['expr'], 'expr')), at);
      const bad = samples.filter((s) => !Number.isFinite(Number(s.value[1])));
      if (bad.length > 0) {
        out.push({ source, samples: samples.length, problem: `shows ${bad.map((s) => s.value[1]).join(', ')} for ${JSON.stringify(bad[0]!.metric)}` });
        continue;
      }
      if (samples.length > 0) {
        out.push({ source, samples: samples.length });
        continue;
      }
      const empty = specOf(title, refId)?.empty;
      if (empty === undefined) {
        out.push({ source, samples: 0, problem: 'shows no data where a value belongs' });
        continue;
      }
      // The condition must be established (a 0), not merely missing too.
      const condition = await prometheus.query(concrete(empty.when), at);
      const holds = condition.length > 0 && condition.every((s) => Number(s.value[1]) === 0);
      out.push({
        source,
        samples: 0,
        ...(holds ? {} : { problem: `shows no data although ${empty.when} is ${condition.map((s) => s.value[1]).join(', ') || 'empty'} ("${empty.means}" is not established)` }),
      });
    }
  }
  return out;
}
