/**
 * What telemetry may say about a SQL text: a low-cardinality summary (`SELECT users`) for span
 * names, and a sanitised text with every literal replaced by `?`. Both come from one tokenizer
 * that understands SQLite's quoting, so a literal can never leak through a comment, a quoted
 * identifier or a blob.
 */

type Token =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'identifier'; readonly text: string }
  | { readonly kind: 'literal' }
  | { readonly kind: 'parameter'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string };

/** Splits SQL into tokens; comments vanish, strings, numbers and blobs become literals. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'") {
      i = skipQuoted(sql, i, "'");
      tokens.push({ kind: 'literal' });
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      i = skipQuoted(sql, i + 1, "'");
      tokens.push({ kind: 'literal' });
    } else if (c === '"' || c === '`') {
      const end = skipQuoted(sql, i, c);
      // An identifier that never closes swallows the rest of the text: hide it like a literal.
      tokens.push(end > n ? { kind: 'literal' } : { kind: 'identifier', text: sql.slice(i, end) });
      i = end;
    } else if (c === '[') {
      const end = sql.indexOf(']', i + 1);
      const stop = end < 0 ? n : end + 1;
      tokens.push(end < 0 ? { kind: 'literal' } : { kind: 'identifier', text: sql.slice(i, stop) });
      i = stop;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      i++;
      while (i < n && /[0-9a-zA-Z_.]/.test(sql[i] as string)) {
        // An exponent sign belongs to the number (1e-5).
        if ((sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '-' || sql[i + 1] === '+')) i++;
        i++;
      }
      tokens.push({ kind: 'literal' });
    } else if (c === '?' || c === ':' || c === '@' || c === '$') {
      let end = i + 1;
      while (end < n && /[0-9a-zA-Z_]/.test(sql[end] as string)) end++;
      tokens.push({ kind: 'parameter', text: sql.slice(i, end) });
      i = end;
    } else if (/[a-zA-Z_\u0080-\uffff]/.test(c)) {
      let end = i + 1;
      while (end < n && /[0-9a-zA-Z_$\u0080-\uffff]/.test(sql[end] as string)) end++;
      tokens.push({ kind: 'word', text: sql.slice(i, end) });
      i = end;
    } else {
      // Two-character operators stay together so the sanitised text reads naturally.
      const pair = sql.slice(i, i + 2);
      const op = ['<=', '>=', '<>', '!=', '==', '||', '<<', '>>', '->'].includes(pair) ? pair : c;
      tokens.push({ kind: 'punct', text: op });
      i += op.length;
    }
  }
  return tokens;
}

/** The index after the closing quote, or `sql.length + 1` when the quote never closes. */
function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2; // a doubled quote is an escaped quote
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length + 1;
}

/** The SQL with every literal replaced by `?`, comments removed and white space folded. */
export function sanitizeSql(sql: string, maxLength = Infinity): string {
  let out = '';
  for (const token of tokenize(sql)) {
    const text = token.kind === 'literal' ? '?' : token.text;
    const glue = out === '' || /^[,;)]/.test(text) || out.endsWith('(') || out.endsWith('.') || text === '.' ? '' : ' ';
    out += glue + text;
  }
  return truncate(out, maxLength);
}

const OPERATIONS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'CREATE', 'DROP', 'ALTER', 'PRAGMA', 'BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'VACUUM', 'ANALYZE', 'ATTACH', 'DETACH', 'REINDEX', 'EXPLAIN']);
const SCHEMA_OBJECTS = new Set(['TABLE', 'INDEX', 'VIEW', 'TRIGGER']);
const SKIP_WORDS = new Set(['IF', 'NOT', 'EXISTS', 'TEMP', 'TEMPORARY', 'UNIQUE', 'VIRTUAL', 'OR', 'IGNORE', 'ABORT', 'FAIL', 'INTO', 'FROM', 'ONLY']);

export interface QuerySummary {
  /** `{operation} {target}` pairs in order, e.g. `INSERT orders SELECT carts`; empty when nothing is recognised. */
  readonly summary: string;
  /** The first operation, e.g. `SELECT`, for `db.operation.name`. */
  readonly operation: string | undefined;
}

/**
 * A low-cardinality summary in the semantic conventions' form: operations and their first
 * target, in order, never a literal (literals are not words), at most 255 characters.
 */
export function summarizeSql(sql: string): QuerySummary {
  const tokens = tokenize(sql);
  const parts: string[] = [];
  let operation: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind !== 'word') continue;
    const upper = token.text.toUpperCase();
    if (!OPERATIONS.has(upper) || !startsStatement(tokens, i, upper)) continue;
    // A SELECT right after INSERT ... or inside parentheses still counts: it reads a table.
    let op = token.text;
    let j = i + 1;
    if (upper === 'CREATE' || upper === 'DROP' || upper === 'ALTER') {
      while (j < tokens.length && isWord(tokens[j], SKIP_WORDS)) j++;
      const object = tokens[j];
      if (object?.kind === 'word' && SCHEMA_OBJECTS.has(object.text.toUpperCase())) {
        op = `${token.text} ${object.text}`;
        j++;
      }
    }
    operation ??= op;
    const target = findTarget(tokens, upper, j);
    const part = target === undefined ? op : `${op} ${target}`;
    // `SELECT c UNION SELECT c` says no more than `SELECT c`: keep the summary short.
    if (parts[parts.length - 1] !== part) parts.push(part);
    // A trigger's body runs later, on other statements: it is not this statement's work.
    if (/ TRIGGER$/i.test(op)) break;
  }
  // At most 255 characters, cut between `{operation} {target}` pairs (a lone operation would mislead).
  let summary = parts[0] === undefined ? '' : truncate(parts[0], 255, true);
  for (const part of parts.slice(1)) {
    if (summary.length + 1 + part.length > 255) break;
    summary += ` ${part}`;
  }
  return { summary, operation };
}

/** Statements a CTE (`WITH ... AS (...)`) can lead into. */
const CTE_STATEMENTS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE']);

/**
 * Whether the operation keyword at `i` is a statement: a SELECT wherever it is (subqueries read
 * tables), anything else only at the start of a statement (or after EXPLAIN, or a CTE). So
 * `INSERT OR REPLACE`, `ON CONFLICT ... DO UPDATE`, `replace(...)` and `CASE ... END` name nothing.
 */
function startsStatement(tokens: Token[], i: number, upper: string): boolean {
  if (upper === 'SELECT') return true;
  const previous = tokens[i - 1];
  if (previous === undefined) return true;
  if (previous.kind === 'punct') return previous.text === ';' || (previous.text === ')' && CTE_STATEMENTS.has(upper));
  return isWord(previous, EXPLAIN_WORDS);
}

const EXPLAIN_WORDS = new Set(['EXPLAIN', 'PLAN']);

const OR = new Set(['OR']);

function findTarget(tokens: Token[], operation: string, from: number): string | undefined {
  if (operation === 'SELECT' || operation === 'DELETE') {
    // The first FROM at the same depth names the table read (or deleted from).
    let depth = 0;
    for (let k = from; k < tokens.length; k++) {
      const t = tokens[k] as Token;
      if (t.kind === 'punct' && t.text === '(') depth++;
      else if (t.kind === 'punct' && t.text === ')') {
        if (depth === 0) return undefined;
        depth--;
      } else if (depth === 0 && t.kind === 'word' && t.text.toUpperCase() === 'FROM') return qualifiedName(tokens, k + 1);
      else if (depth === 0 && t.kind === 'punct' && t.text === ';') return undefined;
    }
    return undefined;
  }
  if (['INSERT', 'REPLACE', 'UPDATE', 'CREATE', 'DROP', 'ALTER', 'PRAGMA'].includes(operation)) {
    let k = from;
    // `INSERT OR REPLACE INTO t`: the word after OR is a conflict algorithm, not the target.
    while (k < tokens.length && (isWord(tokens[k], SKIP_WORDS) || (k > from && isWord(tokens[k - 1], OR)))) k++;
    return qualifiedName(tokens, k);
  }
  return undefined;
}

/** `schema.table` or `table` at position k, if it is an identifier. */
function qualifiedName(tokens: Token[], k: number): string | undefined {
  const first = tokens[k];
  if (first === undefined || (first.kind !== 'word' && first.kind !== 'identifier')) return undefined;
  if (first.kind === 'word' && OPERATIONS.has(first.text.toUpperCase())) return undefined;
  const dot = tokens[k + 1];
  const second = tokens[k + 2];
  if (dot?.kind === 'punct' && dot.text === '.' && (second?.kind === 'word' || second?.kind === 'identifier')) {
    return `${first.text}.${second.text}`;
  }
  return first.text;
}

function isWord(token: Token | undefined, words: Set<string>): boolean {
  return token?.kind === 'word' && words.has(token.text.toUpperCase());
}

function truncate(text: string, maxLength: number, atToken = false): string {
  if (text.length <= maxLength) return text;
  if (!atToken) return text.slice(0, maxLength);
  const cut = text.lastIndexOf(' ', maxLength);
  return text.slice(0, cut > 0 ? cut : maxLength);
}
