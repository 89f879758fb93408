/**
 * What telemetry may say about a SQL text: a low-cardinality summary (`SELECT users`) for span
 * names, and a sanitised text with every literal replaced by `?`, both from the shared tokenizer.
 */
import { tokenize, type Token } from '../sql/tokenize.js';

export { tokenize } from '../sql/tokenize.js';

/** The SQL with every literal (and a PRAGMA's argument) replaced by `?`, comments removed and white space folded. */
export function sanitizeSql(sql: string, maxLength = Infinity): string {
  return truncate(sanitizeTokens(valueTokens(sql)), maxLength);
}

/**
 * The tokens, with a PRAGMA's argument read as a literal whatever its quoting: SQLite takes
 * `PRAGMA key = passphrase` and `= "passphrase"` as it takes `= 'passphrase'`, and SQLCipher's raw
 * key is written `PRAGMA key = "x'2DD29CA8...'"`, a quoted identifier to the tokenizer. So
 * `PRAGMA journal_mode = WAL` is reported as `PRAGMA journal_mode = ?`: a pragma's value is a value.
 */
function valueTokens(sql: string): readonly Token[] {
  const tokens = tokenize(sql);
  let out: Token[] | undefined;
  for (let i = 0; i < tokens.length; i++) {
    if (!isWord(tokens[i], PRAGMA) || (i > 0 && !isPunct(tokens[i - 1], ';'))) continue;
    let j = i + 1;
    if (isName(tokens[j])) j++;
    if (isPunct(tokens[j], '.') && isName(tokens[j + 1])) j += 2;
    if (!isPunct(tokens[j], '=') && !isPunct(tokens[j], '(')) continue;
    for (j++; j < tokens.length && !isPunct(tokens[j], ';') && !isPunct(tokens[j], ')'); j++) {
      if (isName(tokens[j])) (out ??= [...tokens])[j] = { kind: 'literal', spaced: (tokens[j] as Token).spaced };
    }
  }
  return out ?? tokens;
}

const PRAGMA = new Set(['PRAGMA']);

function isName(token: Token | undefined): boolean {
  return token?.kind === 'word' || token?.kind === 'identifier';
}

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === 'punct' && token.text === text;
}

function sanitizeTokens(tokens: readonly Token[]): string {
  let out = '';
  for (const token of tokens) {
    // Where the text had white space or a comment, one space; where it had none, none.
    out += (out !== '' && token.spaced ? ' ' : '') + (token.kind === 'literal' ? '?' : token.text);
  }
  return out;
}

/** What a statement's telemetry says about its text, from one pass of the tokenizer. */
export interface SqlDescription extends QuerySummary {
  /** `db.query.text`: see {@link queryText}. */
  readonly text: string;
}

/** The summary, operation and `db.query.text` of a statement, tokenized once. */
export function describeSql(sql: string, maxLength = Infinity): SqlDescription {
  const tokens = valueTokens(sql);
  return { ...summarizeTokens(tokens), text: queryTextOf(sql, tokens, maxLength) };
}

/**
 * `db.query.text`, whatever path the statement took: the text exactly as written when it holds no
 * literal and no comment (a parameterised text says nothing private), the sanitised text otherwise.
 * A comment is free text, as likely as a literal to carry a value (`-- for alice@example.com`), so it
 * is dropped too. Cut to `maxLength` characters either way.
 */
export function queryText(sql: string, maxLength = Infinity): string {
  return queryTextOf(sql, valueTokens(sql), maxLength);
}

function queryTextOf(sql: string, tokens: readonly Token[], maxLength: number): string {
  // `--` or `/*` inside a quoted identifier is taken for a comment too: that only costs the
  // text its layout (it is sanitised), never a leak.
  const clean = !/--|\/\*/.test(sql) && !tokens.some((token) => token.kind === 'literal');
  return truncate(clean ? sql : sanitizeTokens(tokens), maxLength);
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
  return summarizeTokens(tokenize(sql));
}

function summarizeTokens(tokens: readonly Token[]): QuerySummary {
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
function startsStatement(tokens: readonly Token[], i: number, upper: string): boolean {
  if (upper === 'SELECT') return true;
  const previous = tokens[i - 1];
  if (previous === undefined) return true;
  if (previous.kind === 'punct') return previous.text === ';' || (previous.text === ')' && CTE_STATEMENTS.has(upper));
  return isWord(previous, EXPLAIN_WORDS);
}

const EXPLAIN_WORDS = new Set(['EXPLAIN', 'PLAN']);

const OR = new Set(['OR']);

function findTarget(tokens: readonly Token[], operation: string, from: number): string | undefined {
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
function qualifiedName(tokens: readonly Token[], k: number): string | undefined {
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
