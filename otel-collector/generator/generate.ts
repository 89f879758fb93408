/**
 * Writes the generated stack files: `npm run stack:generate`. The stack tests generate them again
 * and compare with the committed ones, so an edit to a generated file (or a generator change not
 * run) fails CI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardFile } from './dashboard.js';
import { grafanaAlertFile } from './grafana-alerts.js';
import { prometheusRuleFile } from './prometheus-rules.js';
import { readmeAlertTable, withAlertTable } from './readme-alerts.js';

export const STACK_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

export interface GeneratedFile {
  /** Relative to otel-collector/. */
  readonly path: string;
  /** The file's content, given its current content (the README keeps its hand-written parts). */
  readonly render: (current: string) => string;
}

export const GENERATED_FILES: readonly GeneratedFile[] = [
  { path: 'prometheus/rules/sqlite-pool-alerts.yaml', render: () => prometheusRuleFile() },
  { path: 'grafana/provisioning/alerting/sqlite-pool-alerts.yaml', render: () => grafanaAlertFile() },
  { path: 'grafana/dashboards/sqlite-pool.json', render: () => dashboardFile() },
  { path: 'README.md', render: (current) => withAlertTable(current, readmeAlertTable()) },
];

function main(): void {
  for (const file of GENERATED_FILES) {
    const path = join(STACK_DIR, file.path);
    const current = readFileSync(path, 'utf8');
    const next = file.render(current);
    if (next !== current) writeFileSync(path, next);
    process.stdout.write(`${next === current ? 'unchanged' : 'wrote    '} otel-collector/${file.path}\n`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
