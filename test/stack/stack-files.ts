/**
 * Shared helpers for the otel-collector/ stack tests: where the files are, how to read them, how
 * to run promtool, and how to pull PromQL out of the Grafana dashboard and alert files.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const STACK_DIR = join(REPO_ROOT, 'otel-collector');

export const PATHS = {
  collectorConfig: join(STACK_DIR, 'otel-collector-config.yaml'),
  compose: join(STACK_DIR, 'docker-compose.yaml'),
  prometheusConfig: join(STACK_DIR, 'prometheus', 'prometheus.yml'),
  alertRules: join(STACK_DIR, 'prometheus', 'rules', 'sqlite-pool-alerts.yaml'),
  alertRuleTests: join(STACK_DIR, 'prometheus', 'rules', 'sqlite-pool-alerts.test.yaml'),
  grafanaDatasources: join(STACK_DIR, 'grafana', 'provisioning', 'datasources', 'datasources.yaml'),
  grafanaDashboardProvider: join(STACK_DIR, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml'),
  grafanaAlerts: join(STACK_DIR, 'grafana', 'provisioning', 'alerting', 'sqlite-pool-alerts.yaml'),
  dashboard: join(STACK_DIR, 'grafana', 'dashboards', 'sqlite-pool.json'),
} as const;

/** A parsed YAML or JSON document: walk it with `obj()`, `arr()` and `str()`. */
export type Doc = unknown;

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readYaml(path: string): Doc {
  return parse(readText(path)) as Doc;
}

export function readJson(path: string): Doc {
  return JSON.parse(readText(path)) as Doc;
}

/** The value as a plain object; throws (failing the test) with `what` if it is not one. */
export function obj(value: Doc, what: string): Record<string, Doc> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what}: expected an object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, Doc>;
}

export function arr(value: Doc, what: string): Doc[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${JSON.stringify(value)}`);
  return value as Doc[];
}

export function str(value: Doc, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// promtool

export interface ToolResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Debian's promtool (installed by .ci/run); PROMTOOL overrides the path. */
export const PROMTOOL = process.env['PROMTOOL'] ?? 'promtool';

export function promtool(args: readonly string[], cwd: string = REPO_ROOT): ToolResult {
  const result = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8', timeout: 15_000 });
  if (result.error) {
    throw new Error(`could not run ${PROMTOOL} ${args.join(' ')}: ${result.error.message}`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A copy of the promtool unit tests (next to a copy of the rule file) in which every expected
 * alert also expects its rule's `description` and `runbook`: promtool compares annotations whole,
 * and those long texts come from the generator; the tests spell out the summaries.
 */
export function unitTestsWithRuleAnnotations(dir: string, edit: (text: string) => string = (t) => t): string {
  const annotations = new Map(prometheusAlertRules(readYaml(PATHS.alertRules)).map((r) => [r.alert, r.annotations]));
  const tests = obj(readYaml(PATHS.alertRuleTests), 'tests file');
  for (const t of arr(tests['tests'], 'tests')) {
    for (const a of arr(obj(t, 'test')['alert_rule_test'] ?? [], 'alert_rule_test')) {
      const at = obj(a, 'alert_rule_test');
      const full = annotations.get(str(at['alertname'], 'alertname'));
      if (full === undefined) throw new Error(`unit test for an unknown alert ${String(at['alertname'])}`);
      for (const e of arr(at['exp_alerts'] ?? [], 'exp_alerts')) {
        const expected = obj(e, 'exp_alert');
        expected['exp_annotations'] = { description: full['description'], runbook: full['runbook'], ...obj(expected['exp_annotations'] ?? {}, 'exp_annotations') };
      }
    }
  }
  copyFileSync(PATHS.alertRules, join(dir, 'sqlite-pool-alerts.yaml'));
  const file = join(dir, 'sqlite-pool-alerts.test.yaml');
  writeFileSync(file, edit(stringify(tests)));
  return file;
}

export interface NamedExpr {
  /** Where the expression comes from, e.g. `dashboard panel 7 "Query time" target B`. */
  readonly source: string;
  readonly expr: string;
}

/**
 * Writes the expressions as recording rules (`record: stack_expr_<n>`) into `dir` and runs
 * `promtool check rules` on the file, which parses and type-checks every expression.
 */
export function checkExpressionsWithPromtool(exprs: readonly NamedExpr[], dir: string): ToolResult {
  const file = join(dir, 'expressions.rules.yaml');
  const rules = exprs.map((e, i) => ({ record: `stack_expr_${i}`, expr: e.expr }));
  writeFileSync(file, stringify({ groups: [{ name: 'stack-expressions', rules }] }));
  return promtool(['check', 'rules', file]);
}

// ---------------------------------------------------------------------------------------------
// Grafana

/** Concrete values for the Grafana variables the dashboard uses, so promtool can parse the query. */
const GRAFANA_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '1m',
  __range: '1h',
  pool: 'main',
};

/**
 * Replaces `$name`, `${name}` and `${name:format}` with concrete values (`values` first, e.g. a
 * scaled rate interval); unknown names throw.
 */
export function substituteGrafanaVariables(expr: string, values: Readonly<Record<string, string>> = {}): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (match, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    const value = values[name] ?? GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${match} in ${expr}`);
    return value;
  });
}

/** Every panel, including the panels nested in collapsed rows. */
export function dashboardPanels(dashboard: Doc): Record<string, Doc>[] {
  const out: Record<string, Doc>[] = [];
  const walk = (panels: Doc): void => {
    for (const p of arr(panels, 'panels')) {
      const panel = obj(p, 'panel');
      out.push(panel);
      if (panel['panels'] !== undefined) walk(panel['panels']);
    }
  };
  walk(obj(dashboard, 'dashboard')['panels']);
  return out;
}

/** Every PromQL expression of the dashboard's panels, as written (with Grafana variables). */
export function dashboardExpressions(dashboard: Doc): NamedExpr[] {
  const out: NamedExpr[] = [];
  for (const panel of dashboardPanels(dashboard)) {
    const targets = panel['targets'];
    if (targets === undefined) continue;
    for (const t of arr(targets, 'targets')) {
      const target = obj(t, 'target');
      if (target['expr'] === undefined) continue;
      out.push({
        source: `dashboard panel ${String(panel['id'])} "${String(panel['title'])}" target ${String(target['refId'])}`,
        expr: str(target['expr'], 'target.expr'),
      });
    }
  }
  return out;
}

/** Queries of the dashboard's template variables (e.g. `label_values(metric, label)`). */
export function dashboardVariableQueries(dashboard: Doc): NamedExpr[] {
  const templating = obj(obj(dashboard, 'dashboard')['templating'], 'templating');
  return arr(templating['list'], 'templating.list').flatMap((v) => {
    const variable = obj(v, 'variable');
    if (variable['type'] !== 'query') return [];
    const query = variable['query'];
    const text = typeof query === 'string' ? query : str(obj(query, 'query')['query'], 'query.query');
    return [{ source: `dashboard variable ${String(variable['name'])}`, expr: text }];
  });
}

export interface GrafanaRule {
  readonly uid: string;
  readonly title: string;
  readonly raw: Record<string, Doc>;
}

export function grafanaAlertRules(alerting: Doc): GrafanaRule[] {
  return arr(obj(alerting, 'alerting')['groups'], 'groups').flatMap((g) =>
    arr(obj(g, 'group')['rules'], 'rules').map((r) => {
      const raw = obj(r, 'rule');
      return { uid: str(raw['uid'], 'rule.uid'), title: str(raw['title'], 'rule.title'), raw };
    }),
  );
}

/** The PromQL queries of the Grafana-managed rules (the data entries that are not expressions). */
export function grafanaAlertExpressions(alerting: Doc): NamedExpr[] {
  return grafanaAlertRules(alerting).flatMap((rule) =>
    arr(rule.raw['data'], 'data').flatMap((d) => {
      const query = obj(d, 'data');
      if (query['datasourceUid'] === '__expr__') return [];
      const model = obj(query['model'], 'model');
      return [{ source: `Grafana alert ${rule.title} query ${String(query['refId'])}`, expr: str(model['expr'], 'model.expr') }];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Prometheus rules

export interface PromAlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

export function prometheusAlertRules(rulesFile: Doc): PromAlertRule[] {
  return arr(obj(rulesFile, 'rule file')['groups'], 'groups').flatMap((g) =>
    arr(obj(g, 'group')['rules'], 'rules').flatMap((r) => {
      const rule = obj(r, 'rule');
      if (rule['alert'] === undefined) return [];
      return [
        {
          alert: str(rule['alert'], 'alert'),
          expr: str(rule['expr'], 'expr'),
          ...(rule['for'] === undefined ? {} : { for: str(rule['for'], 'for') }),
          labels: (rule['labels'] ?? {}) as Record<string, string>,
          annotations: (rule['annotations'] ?? {}) as Record<string, string>,
        },
      ];
    }),
  );
}

/** Removes all whitespace, to compare two PromQL texts that differ only in layout. */
export function squash(expr: string): string {
  return expr.replace(/\s+/g, '');
}
