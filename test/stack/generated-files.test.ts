/**
 * The dashboard, the Prometheus rules, the Grafana-managed alerts and the README's alert table are
 * generated (otel-collector/generator, `npm run stack:generate`): generating them again must give
 * the committed files, so neither a hand edit nor a generator change left unrun reaches main.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILES, STACK_DIR } from '../../otel-collector/generator/generate.js';
import { poolAlertRules } from '../../otel-collector/generator/alert-rules.js';
import { prometheusRuleFile } from '../../otel-collector/generator/prometheus-rules.js';
import { PATHS, prometheusAlertRules, readText } from './stack-files.js';
import { parse } from 'yaml';

describe('generated stack files', () => {
  for (const file of GENERATED_FILES) {
    it(`otel-collector/${file.path} is what the generator writes`, () => {
      const committed = readFileSync(join(STACK_DIR, file.path), 'utf8');
      expect(file.render(committed) === committed, `run npm run stack:generate and commit otel-collector/${file.path}`).toBe(true);
    });
  }

  it('the generator covers the files the stack tests read', () => {
    const paths = GENERATED_FILES.map((f) => join(STACK_DIR, f.path));
    for (const path of [PATHS.dashboard, PATHS.alertRules, PATHS.grafanaAlerts]) expect(paths).toContain(path);
  });

  it('a scaled rule file differs from the shipped one only in its durations', () => {
    const shipped = prometheusAlertRules(parse(readText(PATHS.alertRules)));
    const scaled = prometheusAlertRules(parse(prometheusRuleFile(1 / 30)));
    expect(scaled.map((r) => r.alert)).toEqual(shipped.map((r) => r.alert));
    const churn = poolAlertRules(1 / 30).find((r) => r.name === 'SqlitePoolConnectionChurn')!;
    expect(churn.forSeconds).toBe(20);
    for (const [i, rule] of scaled.entries()) {
      const original = shipped[i]!;
      const durations = /\[(\w+)\]|offset (\w+)/g;
      expect(rule.expr.replace(durations, '[d]').replace(/< [\d.e-]+$/, ''), rule.alert).toBe(
        original.expr.replace(durations, '[d]').replace(/< [\d.e-]+$/, ''),
      );
      expect(rule.annotations, rule.alert).toEqual(original.annotations);
    }
    expect(scaled.find((r) => r.alert === 'SqlitePoolAcquireTimeouts')!.expr).toContain('offset 10s');
  });
});
