/**
 * What cannot run here (no Docker: no collector, Jaeger or Grafana) is checked structurally: the
 * collector pipelines use only defined components, the compose file is pinned, loopback-only and
 * mounts files that exist, the pieces agree on ports and paths, and the Grafana provisioning
 * refers only to provisioned data sources and mirrors the Prometheus alert rules.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PATHS,
  STACK_DIR,
  arr,
  dashboardExpressions,
  dashboardPanels,
  grafanaAlertRules,
  obj,
  prometheusAlertRules,
  readJson,
  readText,
  readYaml,
  squash,
  str,
  type Doc,
} from './stack-files.js';

const collector = (): Record<string, Doc> => obj(readYaml(PATHS.collectorConfig), 'collector config');
const compose = (): Record<string, Doc> => obj(readYaml(PATHS.compose), 'compose file');
const services = (): Record<string, Record<string, Doc>> => {
  const s = obj(compose()['services'], 'services');
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, obj(v, `service ${k}`)]));
};
const service = (name: string): Record<string, Doc> => {
  const s = services()[name];
  if (!s) throw new Error(`no service ${name} in docker-compose.yaml`);
  return s;
};
const strings = (value: Doc, what: string): string[] => arr(value ?? [], what).map((v) => str(v, what));

/** `type` of a component id `type/name`. */
const componentType = (id: string): string => id.split('/')[0]!;

/** Host and container side of a compose volume entry `./src:/target[:ro]`. */
function bindMount(entry: string): { source: string; target: string; readOnly: boolean } | null {
  const parts = entry.split(':');
  if (!parts[0]!.startsWith('.') && !parts[0]!.startsWith('/')) return null; // named volume
  return { source: parts[0]!, target: parts[1]!, readOnly: parts[2] === 'ro' };
}

function containerPortsOf(name: string): number[] {
  return strings(service(name)['ports'], 'ports').map((p) => Number(p.split(':').at(-1)));
}

function portOf(endpoint: string): number {
  return Number(endpoint.split(':').at(-1));
}

describe('collector config', () => {
  it('pipelines reference only defined receivers, processors, exporters and connectors', () => {
    const cfg = collector();
    const svc = obj(cfg['service'], 'service');
    const defined = (kind: string): Set<string> => new Set(Object.keys(obj(cfg[kind] ?? {}, kind)));
    const connectors = defined('connectors');
    const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
    const problems: string[] = [];
    for (const [pipeline, p] of Object.entries(obj(svc['pipelines'], 'pipelines'))) {
      const spec = obj(p, pipeline);
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        for (const id of strings(spec[kind], `${pipeline}.${kind}`)) {
          used[kind].add(id);
          const ok = defined(kind).has(id) || (kind !== 'processors' && connectors.has(id));
          if (!ok) problems.push(`pipeline ${pipeline}: ${kind} ${id} is not defined`);
        }
      }
      expect(strings(spec['receivers'], 'receivers').length, pipeline).toBeGreaterThan(0);
      expect(strings(spec['exporters'], 'exporters').length, pipeline).toBeGreaterThan(0);
    }
    for (const id of strings(svc['extensions'], 'service.extensions')) {
      if (!defined('extensions').has(id)) problems.push(`service.extensions: ${id} is not defined`);
    }
    // Nothing defined and left unused either (a typo in a pipeline would leave one dangling).
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      for (const id of defined(kind)) if (!used[kind].has(id)) problems.push(`${kind} ${id} is defined but unused`);
    }
    for (const id of defined('extensions')) {
      if (!strings(svc['extensions'], 'extensions').includes(id)) problems.push(`extension ${id} is not enabled`);
    }
    expect(problems).toEqual([]);
  });

  it('has the required components with current names', () => {
    const cfg = collector();
    const protocols = obj(obj(obj(cfg['receivers'], 'receivers')['otlp'], 'otlp')['protocols'], 'protocols');
    expect(obj(protocols['grpc'], 'grpc')['endpoint']).toBe('0.0.0.0:4317');
    expect(obj(protocols['http'], 'http')['endpoint']).toBe('0.0.0.0:4318');
    expect(obj(obj(cfg['extensions'], 'extensions')['health_check'], 'health_check')['endpoint']).toBe(
      '0.0.0.0:13133',
    );

    const exporters = obj(cfg['exporters'], 'exporters');
    const processors = obj(cfg['processors'], 'processors');
    const types = [...Object.keys(exporters), ...Object.keys(processors)].map(componentType);
    // Deprecated aliases and the batch processor being phased out.
    for (const old of ['otlp', 'otlphttp', 'logging', 'batch', 'prometheusremotewrite']) expect(types).not.toContain(old);

    const jaeger = obj(exporters['otlp_grpc/jaeger'], 'otlp_grpc/jaeger');
    expect(jaeger['endpoint']).toBe('jaeger:4317');
    expect(obj(obj(jaeger['sending_queue'], 'sending_queue'), 'sending_queue')).toHaveProperty('batch');

    const prom = obj(exporters['prometheus'], 'prometheus exporter');
    // Names as the app's endpoint serves them (no unit suffix); see README "Metric names".
    expect(prom['translation_strategy']).toBe('UnderscoreEscapingWithoutSuffixes');

    const pipelines = obj(obj(cfg['service'], 'service')['pipelines'], 'pipelines');
    for (const [name, p] of Object.entries(pipelines)) {
      expect(strings(obj(p, name)['processors'], 'processors')[0], `${name}: memory_limiter first`).toBe(
        'memory_limiter',
      );
    }
    expect(strings(obj(pipelines['traces'], 'traces')['exporters'], 'exporters')).toEqual(['otlp_grpc/jaeger']);
    expect(strings(obj(pipelines['metrics'], 'metrics')['exporters'], 'exporters')).toEqual(['prometheus']);
  });

  it('adds _total to monotonic sums unless the name already ends with it (the match is anchored)', () => {
    const processors = obj(collector()['processors'], 'processors');
    const transform = obj(processors['transform/counter_total_suffix'], 'transform/counter_total_suffix');
    const statements = arr(transform['metric_statements'], 'metric_statements').flatMap((s) =>
      strings(obj(s, 'metric_statement')['statements'], 'statements'),
    );
    const patterns = statements.flatMap((s) => [...s.matchAll(/IsMatch\(metric\.name, "([^"]+)"\)/g)].map((m) => m[1]!));
    expect(patterns.length, statements.join('\n')).toBe(1);
    // OTTL's IsMatch is Go's regexp.MatchString: unanchored unless the pattern says so.
    const alreadySuffixed = new RegExp(patterns[0]!);
    expect(alreadySuffixed.test('sqlite_pool_connection_closed_total')).toBe(true);
    expect(alreadySuffixed.test('app_total_bytes')).toBe(false);
  });

  it('exposes self-metrics, and the ports agree with the compose file and prometheus.yml', () => {
    const cfg = collector();
    const readers = arr(
      obj(obj(obj(cfg['service'], 'service')['telemetry'], 'telemetry')['metrics'], 'metrics')['readers'],
      'readers',
    );
    const pull = obj(obj(obj(obj(readers[0], 'reader')['pull'], 'pull')['exporter'], 'exporter')['prometheus'], 'prom');
    const selfPort = Number(pull['port']);
    expect(pull['host']).toBe('0.0.0.0');

    const exporterPort = portOf(str(obj(obj(cfg['exporters'], 'exporters')['prometheus'], 'p')['endpoint'], 'endpoint'));
    expect(containerPortsOf('otel-collector').sort()).toEqual([4317, 4318, 13133, selfPort, exporterPort].sort());

    const targets = scrapeTargets();
    expect(targets).toContain(`otel-collector:${exporterPort}`);
    expect(targets).toContain(`otel-collector:${selfPort}`);
  });
});

function scrapeTargets(): string[] {
  const cfg = obj(readYaml(PATHS.prometheusConfig), 'prometheus.yml');
  return arr(cfg['scrape_configs'], 'scrape_configs').flatMap((sc) =>
    arr(obj(sc, 'scrape_config')['static_configs'] ?? [], 'static_configs').flatMap((s) =>
      strings(obj(s, 'static_config')['targets'], 'targets'),
    ),
  );
}

describe('docker-compose.yaml', () => {
  it('runs the collector, Jaeger v2, Prometheus v3 and Grafana, pinned to exact versions', () => {
    const images = Object.fromEntries(Object.entries(services()).map(([k, s]) => [k, str(s['image'], `${k}.image`)]));
    expect(Object.keys(images).sort()).toEqual(['grafana', 'jaeger', 'otel-collector', 'prometheus']);
    for (const [name, image] of Object.entries(images)) {
      const tag = /:([^:/@]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
      expect(tag, `${name}: ${image} has no tag`).toBeDefined();
      expect(tag, `${name}: ${image}`).not.toBe('latest');
      expect(tag, `${name}: ${image} is not an exact version`).toMatch(/^v?\d+\.\d+\.\d+$/);
      expect(image, `${name}: no variables in the image`).not.toContain('$');
    }
    expect(images['otel-collector']).toMatch(/opentelemetry-collector-contrib:/);
    expect(images['jaeger']).toMatch(/jaegertracing\/jaeger:2\./);
    expect(images['prometheus']).toMatch(/prometheus:v3\./);
    expect(images['grafana']).toMatch(/grafana\/grafana:\d/);
  });

  it('binds every host port to 127.0.0.1', () => {
    const bad: string[] = [];
    for (const [name, s] of Object.entries(services())) {
      for (const p of strings(s['ports'], `${name}.ports`)) if (!p.startsWith('127.0.0.1:')) bad.push(`${name}: ${p}`);
    }
    expect(bad).toEqual([]);
  });

  it('mounts only paths that exist in the repo, configuration read-only', () => {
    const problems: string[] = [];
    for (const [name, s] of Object.entries(services())) {
      for (const v of strings(s['volumes'], `${name}.volumes`)) {
        const m = bindMount(v);
        if (!m) continue;
        if (isAbsolute(m.source)) problems.push(`${name}: ${v} is an absolute host path`);
        if (!existsSync(resolve(STACK_DIR, m.source))) problems.push(`${name}: ${m.source} does not exist`);
        if (!m.readOnly) problems.push(`${name}: ${v} is not read-only`);
      }
    }
    expect(problems).toEqual([]);
    const named = Object.keys(obj(compose()['volumes'] ?? {}, 'volumes'));
    for (const [name, s] of Object.entries(services())) {
      for (const v of strings(s['volumes'], `${name}.volumes`)) {
        if (!bindMount(v)) expect(named, `${name}: volume ${v}`).toContain(v.split(':')[0]);
      }
    }
  });

  it('reaches the app on the host, and the container paths match the configs', () => {
    const prometheus = service('prometheus');
    expect(strings(prometheus['extra_hosts'], 'extra_hosts')).toContain('host.docker.internal:host-gateway');
    expect(scrapeTargets()).toContain('host.docker.internal:9464');

    // Prometheus: the whole prometheus/ folder at /etc/prometheus, so relative rule paths resolve.
    const promMounts = strings(prometheus['volumes'], 'volumes').map(bindMount).filter((m) => m !== null);
    expect(promMounts).toContainEqual({ source: './prometheus', target: '/etc/prometheus', readOnly: true });
    expect(strings(prometheus['command'], 'command')).toContain('--config.file=/etc/prometheus/prometheus.yml');

    // Collector: --config points at the mounted file.
    const col = service('otel-collector');
    const colMount = strings(col['volumes'], 'volumes').map(bindMount).find((m) => m?.source === './otel-collector-config.yaml');
    expect(colMount).toBeDefined();
    expect(strings(col['command'], 'command')).toContain(`--config=${colMount!.target}`);

    // Grafana: provisioning at /etc/grafana/provisioning, dashboards where the provider looks.
    const grafanaMounts = strings(service('grafana')['volumes'], 'volumes').map(bindMount).filter((m) => m !== null);
    expect(grafanaMounts).toContainEqual({
      source: './grafana/provisioning',
      target: '/etc/grafana/provisioning',
      readOnly: true,
    });
    const provider = obj(arr(obj(readYaml(PATHS.grafanaDashboardProvider), 'provider file')['providers'], 'providers')[0], 'provider');
    const dashboardsPath = str(obj(provider['options'], 'options')['path'], 'options.path');
    const dashMount = grafanaMounts.find((m) => m.target === dashboardsPath);
    expect(dashMount, `a mount at ${dashboardsPath}`).toBeDefined();
    expect(existsSync(join(resolve(STACK_DIR, dashMount!.source), 'sqlite-pool.json'))).toBe(true);
  });
});

describe('prometheus.yml', () => {
  it('names rule files relative to itself, and they exist', () => {
    const cfg = obj(readYaml(PATHS.prometheusConfig), 'prometheus.yml');
    const files = strings(cfg['rule_files'], 'rule_files');
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(isAbsolute(f), f).toBe(false);
      expect(existsSync(resolve(dirname(PATHS.prometheusConfig), f)), f).toBe(true);
    }
  });
});

describe('Prometheus alert rules', () => {
  const rules = () => prometheusAlertRules(readYaml(PATHS.alertRules));

  it('has the required alerts, each with summary, description, runbook, severity and grouped by pool', () => {
    const names = rules().map((r) => r.alert);
    expect(names.sort()).toEqual(
      [
        'SqlitePoolAcquireTimeouts',
        'SqlitePoolConnectionChurn',
        'SqlitePoolConnectionsReplaced',
        'SqlitePoolDatabaseLocked',
        'SqlitePoolHealthCheckSuccessRateLow',
        'SqlitePoolHealthyBelowMinimum',
        'SqlitePoolLeakedLeases',
        'SqlitePoolOpenFailures',
        'SqlitePoolPendingAcquires',
        'SqlitePoolQueryTimeP99High',
        'SqlitePoolUnhealthyConnections',
        'SqlitePoolWaitTimeP99High',
      ].sort(),
    );
    for (const r of rules()) {
      expect(r.annotations['summary'], r.alert).toMatch(/\{\{ \$labels\.db_client_connection_pool_name \}\}/);
      expect((r.annotations['description'] ?? '').length, r.alert).toBeGreaterThan(80);
      expect((r.annotations['runbook'] ?? '').length, r.alert).toBeGreaterThan(80);
      expect(['warning', 'critical'], r.alert).toContain(r.labels['severity']);
      expect(r.expr, r.alert).toMatch(/by \(db_client_connection_pool_name[,)]/);
    }
  });

  it('uses the thresholds of the guide and the brief', () => {
    const expr = (name: string): string => squash(rules().find((r) => r.alert === name)!.expr);
    expect(expr('SqlitePoolHealthCheckSuccessRateLow')).toMatch(/<0\.9$/);
    // Average lifetime of closed connections below 10 s (the guide's max_age / 10 fires on its own defaults).
    expect(expr('SqlitePoolConnectionChurn')).toMatch(/<10$/);
    expect(expr('SqlitePoolUnhealthyConnections')).toContain('sqlite_pool_connection_status="unhealthy"');
    // Counted exactly (two samples), not with increase(), which extrapolates to fractions.
    expect(expr('SqlitePoolAcquireTimeouts')).toContain('db_client_connection_timeouts_totaloffset5m');
    for (const r of rules()) expect(r.expr, r.alert).not.toMatch(/\bincrease\(\w*_total/);
  });

  it('every alert has a unit test where it fires and one where it does not', () => {
    const tests = arr(obj(readYaml(PATHS.alertRuleTests), 'tests file')['tests'], 'tests');
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const t of tests) {
      for (const a of arr(obj(t, 'test')['alert_rule_test'] ?? [], 'alert_rule_test')) {
        const at = obj(a, 'alert_rule_test');
        const name = str(at['alertname'], 'alertname');
        (arr(at['exp_alerts'] ?? [], 'exp_alerts').length > 0 ? firing : silent).add(name);
      }
    }
    for (const r of rules()) {
      expect(firing.has(r.alert), `${r.alert} firing`).toBe(true);
      expect(silent.has(r.alert), `${r.alert} not firing`).toBe(true);
    }
  });
});

describe('Grafana provisioning', () => {
  const datasources = () => arr(obj(readYaml(PATHS.grafanaDatasources), 'datasources file')['datasources'], 'datasources').map((d) => obj(d, 'datasource'));
  const uids = (): Set<string> => new Set(datasources().map((d) => str(d['uid'], 'uid')));

  it('every provisioning file parses and declares apiVersion 1', () => {
    const dir = join(STACK_DIR, 'grafana', 'provisioning');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(obj(readYaml(join(dir, f)), f)['apiVersion'], f).toBe(1);
  });

  it('provisions Prometheus (alert management on) and Jaeger with fixed uids, exemplars linked to Jaeger', () => {
    const byType = Object.fromEntries(datasources().map((d) => [str(d['type'], 'type'), d]));
    const prom = byType['prometheus'];
    const jaeger = byType['jaeger'];
    expect(prom?.['uid']).toBe('prometheus');
    expect(jaeger?.['uid']).toBe('jaeger');
    expect(prom?.['url']).toBe('http://prometheus:9090');
    expect(jaeger?.['url']).toBe('http://jaeger:16686');
    const jsonData = obj(prom!['jsonData'], 'jsonData');
    expect(jsonData['manageAlerts']).toBe(true);
    for (const d of arr(jsonData['exemplarTraceIdDestinations'], 'exemplarTraceIdDestinations')) {
      const uid = obj(d, 'destination')['datasourceUid'];
      if (uid !== undefined) expect(uids()).toContain(uid);
    }
    expect(uids().size).toBe(datasources().length);
  });

  it('has no unescaped $ where Grafana interpolates environment variables', () => {
    // Data source and dashboard-provider files are env-interpolated: a literal $ must be $$.
    for (const path of [PATHS.grafanaDatasources, PATHS.grafanaDashboardProvider]) {
      expect(readText(path).replace(/\$\$/g, ''), path).not.toContain('$');
    }
    // In alert rule files labels are interpolated too (annotations are not).
    for (const r of grafanaAlertRules(readYaml(PATHS.grafanaAlerts))) {
      expect(JSON.stringify(r.raw['labels'] ?? {}), r.title).not.toContain('$');
    }
  });

  it('the dashboard parses, has a pool variable, and refers only to provisioned data sources', () => {
    const dashboard = obj(readJson(PATHS.dashboard), 'dashboard');
    expect(dashboard['uid']).toBe('sqlite-pool');
    expect(dashboard).not.toHaveProperty('__inputs');
    const refs: string[] = [];
    const walk = (v: Doc, key: string): void => {
      if (Array.isArray(v)) v.forEach((x) => walk(x, key));
      else if (v !== null && typeof v === 'object') {
        const o = v as Record<string, Doc>;
        if (key === 'datasource' && typeof o['uid'] === 'string') refs.push(o['uid']);
        for (const [k, x] of Object.entries(o)) walk(x, k);
      } else if (key === 'datasource' && typeof v === 'string' && v !== '') refs.push(v);
    };
    walk(dashboard, '');
    expect(refs.length).toBeGreaterThan(20);
    expect([...new Set(refs)].filter((u) => !uids().has(u))).toEqual([]);

    const variables = arr(obj(dashboard['templating'], 'templating')['list'], 'list').map((v) => obj(v, 'variable'));
    const pool = variables.find((v) => v['name'] === 'pool');
    expect(pool).toBeDefined();
    expect(JSON.stringify(pool!['query'])).toContain('db_client_connection_pool_name');
    for (const e of dashboardExpressions(dashboard)) {
      expect(e.expr, e.source).toContain('db_client_connection_pool_name=~"$pool"');
    }

    const panels = dashboardPanels(dashboard);
    const ids = panels.map((p) => p['id']);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const g = obj(p['gridPos'], 'gridPos');
      expect(Number(g['x']) + Number(g['w']), String(p['title'])).toBeLessThanOrEqual(24);
    }
    const titles = panels.map((p) => String(p['title']).toLowerCase()).join('\n');
    for (const topic of ['by state', 'health status', 'success rate', 'failures', 'age', 'usage', 'close', 'wait', 'query', 'timeouts', 'leak', 'pending']) {
      expect(titles, topic).toContain(topic);
    }
  });

  it('the Grafana-managed alert rules mirror the Prometheus rules', () => {
    const promRules = prometheusAlertRules(readYaml(PATHS.alertRules));
    const grafana = grafanaAlertRules(readYaml(PATHS.grafanaAlerts));
    expect(grafana.map((r) => r.title).sort()).toEqual(promRules.map((r) => r.alert).sort());
    expect(new Set(grafana.map((r) => r.uid)).size).toBe(grafana.length);
    const ops: Record<string, string> = { gt: '>', lt: '<' };
    for (const g of grafana) {
      const p = promRules.find((r) => r.alert === g.title)!;
      expect(g.uid.length, g.uid).toBeLessThanOrEqual(40);
      const data = arr(g.raw['data'], 'data').map((d) => obj(d, 'data'));
      const refIds = data.map((d) => str(d['refId'], 'refId'));
      expect(refIds, g.title).toContain(g.raw['condition']);
      for (const d of data) expect([...uids(), '__expr__'], g.title).toContain(d['datasourceUid']);

      // The PromQL query plus the threshold is the Prometheus expression.
      const query = data.find((d) => d['datasourceUid'] !== '__expr__')!;
      const signal = str(obj(query['model'], 'model')['expr'], 'expr');
      const threshold = data.find((d) => obj(d['model'], 'model')['type'] === 'threshold')!;
      const evaluator = obj(obj(arr(obj(threshold['model'], 'model')['conditions'], 'conditions')[0], 'condition')['evaluator'], 'evaluator');
      const op = ops[str(evaluator['type'], 'evaluator.type')];
      const value = String(arr(evaluator['params'], 'params')[0]);
      expect([squash(`${signal}${op}${value}`), squash(`(${signal})${op}${value}`)], g.title).toContain(squash(p.expr));

      expect(g.raw['for'] ?? '0s', g.title).toBe(p.for ?? '0s');
      expect(obj(g.raw['labels'], 'labels')['severity'], g.title).toBe(p.labels['severity']);
      const annotations = obj(g.raw['annotations'], 'annotations');
      expect(annotations['description'], g.title).toBe(p.annotations['description']);
      expect(annotations['runbook'], g.title).toBe(p.annotations['runbook']);
      expect(str(annotations['summary'], 'summary'), g.title).toContain('{{ $labels.db_client_connection_pool_name }}');
    }
  });
});
