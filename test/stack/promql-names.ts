/**
 * Which metric and label names a PromQL text uses, and which names the package really emits on
 * the path we ship (the app's own /metrics endpoint, served by @opentelemetry/exporter-prometheus).
 * The expected names are derived from METRIC_DEFINITIONS with prometheusName(), never copied.
 */
import { METRIC_DEFINITIONS, prometheusName } from '../../src/telemetry/metric-definitions.js';

/** Prefixes of the package's own names: metric names and attribute-derived label names. */
export const OUR_PREFIXES = ['db_client_', 'sqlite_pool_'] as const;

const POOL_NAME_ATTRIBUTE = 'db.client.connection.pool.name';

/** How an OpenTelemetry attribute key becomes a Prometheus label name. */
export function labelName(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_');
}

/**
 * The series names a query can select: prometheusName() of every metric, with `_bucket`,
 * `_sum` and `_count` (and not the bare name) for histograms.
 */
export function expectedSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const definition of METRIC_DEFINITIONS) {
    const name = prometheusName(definition);
    if (definition.kind === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    } else {
      names.add(name);
    }
  }
  return names;
}

/** Label names the package's metrics carry: the pool name and every declared attribute. */
export function expectedLabelNames(): Set<string> {
  const names = new Set<string>([labelName(POOL_NAME_ATTRIBUTE)]);
  for (const definition of METRIC_DEFINITIONS) {
    for (const attribute of definition.attributes) names.add(labelName(attribute));
  }
  return names;
}

export interface NameUse {
  readonly name: string;
  readonly role: 'metric' | 'label';
}

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left',
  'group_right', 'start', 'end', 'inf', 'nan',
]);
/** Aggregation operators: followed by `(`, `by` or `without`, never a metric. */
const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk',
  'topk', 'quantile', 'limitk', 'limit_ratio',
]);
/** Keywords whose parenthesised list holds label names. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

type Token =
  | { readonly kind: 'ident'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\d[\w.]*|[a-zA-Z_:][a-zA-Z0-9_:]*|=~|!~|!=|==|>=|<=|[^\s]/g;
  for (const m of expr.matchAll(re)) {
    const text = m[0];
    if (/^\s/.test(text) || text.startsWith('#')) continue;
    if (/^["'`]/.test(text)) tokens.push({ kind: 'string', text });
    else if (/^[a-zA-Z_:]/.test(text)) tokens.push({ kind: 'ident', text });
    else tokens.push({ kind: 'punct', text });
  }
  return tokens;
}

/**
 * Classifies the identifiers of a PromQL expression: a name inside `{...}` or in the list after
 * `by`/`without`/`on`/`ignoring`/`group_left`/`group_right` is a label; a name followed by `(` is a
 * function or aggregation; keywords are skipped; any other name is a metric selector.
 * `label_values(metric, label)` (Grafana's variable query) is understood too.
 */
export function namesInPromQL(expr: string): NameUse[] {
  const tokens = tokenize(expr);
  const uses: NameUse[] = [];
  let braceDepth = 0;
  let labelListDepth: number | null = null;
  let parenDepth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind === 'punct') {
      if (t.text === '{') braceDepth++;
      else if (t.text === '}') braceDepth--;
      else if (t.text === '(') parenDepth++;
      else if (t.text === ')') {
        if (labelListDepth === parenDepth) labelListDepth = null;
        parenDepth--;
      }
      continue;
    }
    if (t.kind !== 'ident') continue;
    if (braceDepth > 0 || labelListDepth !== null) {
      uses.push({ name: t.text, role: 'label' });
      continue;
    }
    if (LABEL_LIST_KEYWORDS.has(t.text) && next?.text === '(') {
      labelListDepth = parenDepth + 1;
      continue;
    }
    if (KEYWORDS.has(t.text)) continue;
    if (AGGREGATIONS.has(t.text) && ['(', 'by', 'without'].includes(next?.text ?? '')) continue;
    if (t.text === 'label_values' && next?.text === '(') {
      // label_values(label) or label_values(metric, label)
      const args = tokens.slice(i + 2, tokens.findIndex((x, j) => j > i && x.text === ')'));
      const idents = args.filter((a) => a.kind === 'ident').map((a) => a.text);
      const label = idents.pop();
      if (label !== undefined) uses.push({ name: label, role: 'label' });
      for (const metric of idents) uses.push({ name: metric, role: 'metric' });
      i += args.length + 2;
      continue;
    }
    if (next?.text === '(') continue; // function or aggregation operator
    uses.push({ name: t.text, role: 'metric' });
  }
  return uses;
}

/** Label names a Go/Grafana template or legend uses: `$labels.x`, `{{x}}`, `{{ x }}`. */
export function labelsInTemplate(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) out.push(m[1]!);
  return out;
}

function isOurs(name: string): boolean {
  return OUR_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The problems with the names in `exprs`: a metric of ours that the package does not emit, a
 * label of ours that no metric carries. Empty when every name exists.
 */
export function unknownNames(exprs: readonly { source: string; expr: string }[]): string[] {
  const series = expectedSeriesNames();
  const labels = expectedLabelNames();
  const problems: string[] = [];
  for (const { source, expr } of exprs) {
    for (const use of namesInPromQL(expr)) {
      if (!isOurs(use.name)) continue;
      if (use.role === 'metric' && !series.has(use.name)) {
        problems.push(`${source}: metric ${use.name} is not emitted by the package`);
      }
      if (use.role === 'label' && !labels.has(use.name)) {
        problems.push(`${source}: label ${use.name} is not carried by any pool metric`);
      }
    }
  }
  return problems;
}

/** Unknown labels in templates and legends (`$labels.x`, `{{x}}`). */
export function unknownTemplateLabels(templates: readonly { source: string; text: string }[]): string[] {
  const labels = expectedLabelNames();
  const problems: string[] = [];
  for (const { source, text } of templates) {
    for (const name of labelsInTemplate(text)) {
      if (isOurs(name) && !labels.has(name)) problems.push(`${source}: label ${name} does not exist`);
    }
  }
  return problems;
}
