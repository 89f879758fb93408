/**
 * promtool on the shipped Prometheus files, plus every PromQL expression of the Grafana dashboard
 * and the Grafana-managed alert rules, wrapped as recording rules so promtool type-checks them.
 * promtool is Debian's Prometheus 2.42 (installed by .ci/run); the container runs Prometheus 3,
 * so the files only use syntax both accept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PATHS,
  checkExpressionsWithPromtool,
  dashboardExpressions,
  grafanaAlertExpressions,
  prometheusAlertRules,
  promtool,
  readJson,
  readYaml,
  substituteGrafanaVariables,
  tempDir,
  unitTestsWithRuleAnnotations,
} from './stack-files.js';
import { SKIP_STACK_TESTS } from '../support/stack-tools.js';

let scratch: { dir: string; cleanup: () => void };
beforeAll(() => {
  scratch = tempDir('otel-stack-promtool-');
});
afterAll(() => scratch.cleanup());

const ruleCount = (): number => prometheusAlertRules(readYaml(PATHS.alertRules)).length;

describe.skipIf(SKIP_STACK_TESTS)('Prometheus configuration and rules (promtool)', () => {
  it('promtool check config accepts prometheus.yml and reads the shipped rule file through it', () => {
    const r = promtool(['check', 'config', PATHS.prometheusConfig]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // A container path in rule_files would make this "0 rule files found" and check nothing.
    expect(r.stdout).toContain('SUCCESS: 1 rule files found');
    expect(r.stdout).toContain(`SUCCESS: ${ruleCount()} rules found`);
  });

  it('promtool check rules accepts the alert rules, lint findings fatal', () => {
    const r = promtool(['check', 'rules', '--lint=all', '--lint-fatal', PATHS.alertRules]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(ruleCount()).toBeGreaterThanOrEqual(9);
  });

  it('promtool test rules passes the unit tests of every alert', () => {
    const r = promtool(['test', 'rules', unitTestsWithRuleAnnotations(scratch.dir)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('promtool test rules fails when an expectation is wrong (the harness can fail)', () => {
    // Same rules, same tests, but one alert is expected with another severity.
    const file = unitTestsWithRuleAnnotations(scratch.dir, (tests) => tests.replace('severity: critical', 'severity: page'));
    const r = promtool(['test', 'rules', file]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('FAILED');
  });
});

describe.skipIf(SKIP_STACK_TESTS)('PromQL of the dashboard and the Grafana-managed alerts (promtool)', () => {
  it('every dashboard expression parses and type-checks', () => {
    const exprs = dashboardExpressions(readJson(PATHS.dashboard)).map((e) => ({
      ...e,
      expr: substituteGrafanaVariables(e.expr),
    }));
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    const r = checkExpressionsWithPromtool(exprs, scratch.dir);
    expect(r.stderr, exprs.map((e, i) => `stack_expr_${i}: ${e.source}`).join('\n')).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
  });

  it('every Grafana alert query parses and type-checks', () => {
    const exprs = grafanaAlertExpressions(readYaml(PATHS.grafanaAlerts));
    expect(exprs.length).toBe(ruleCount());
    const r = checkExpressionsWithPromtool(exprs, scratch.dir);
    expect(r.stderr, exprs.map((e, i) => `stack_expr_${i}: ${e.source}`).join('\n')).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
  });

  it('a type error in an expression fails the check (the wrapping really type-checks)', () => {
    const r = checkExpressionsWithPromtool(
      [
        { source: 'rate of a gauge without a range', expr: 'rate(db_client_connection_count)' },
        {
          source: 'quantile over a range vector',
          expr: 'histogram_quantile(0.99, db_client_connection_wait_time_bucket[5m])',
        },
      ],
      scratch.dir,
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('expected type range vector');
    expect(r.stderr).toContain('expected type instant vector');
  });

  it('Grafana variables are replaced by values promtool accepts, and unknown ones are refused', () => {
    expect(
      substituteGrafanaVariables('rate(x{p=~"$pool"}[$__rate_interval]) + increase(x[${__range}])'),
    ).toBe('rate(x{p=~"main"}[1m]) + increase(x[1h])');
    expect(() => substituteGrafanaVariables('x{p=~"$nope"}')).toThrow(/unknown Grafana variable/);
  });
});
