import { tokenize } from '../sql/tokenize.js';

/**
 * Error messages on spans (status message, `exception.message`, `exception.stacktrace`) without
 * the values SQLite quotes in them. SQLite's messages name the token it choked on, and a literal
 * is a token: `SELECT ... WHERE ssn = '078-05-1120' 1` fails with
 * `near "1": syntax error`, `... 'a' 'b'` with `near "'b'": syntax error`, and its functions quote
 * their arguments (`bad JSON path: '$.secret'`). Each such value becomes `?`; a word stays
 * (`near "FORM": syntax error` is the message that helps, and a keyword or a name is not a value).
 * The caller's error object is never touched: only the copy on the span is sanitised.
 */

/** `near "…": syntax error`, `unrecognized token: "…"`: the token as written in the SQL. */
const SQL_TOKEN = /(near "|unrecognized token: ")([\s\S]*?)(": syntax error|"$|"\n)/g;

/**
 * Formats whose quoted part is always a value: an FTS5 query (a string literal or a bound value),
 * a double-quoted string SQLite itself took for a misplaced literal, a hex literal out of range.
 */
const ALWAYS_VALUES: readonly [RegExp, string][] = [
  [/(fts5: syntax error near )"[\s\S]*?"/g, '$1"?"'],
  // FTS5's NEAR(a b, n) with something else than a number for n (a search box's input).
  [/(expected integer, got )"[^"]*"/g, '$1"?"'],
  // ATTACH and VACUUM INTO name the file they could not open: a path, written in the SQL or bound.
  [/(unable to open database: )[^\n]+/g, '$1?'],
  // The pool's ConfigurationError quotes the value it refused, which may be a pragma's (a key).
  [/(Invalid [^\s:]+: )("(?:[^"\\]|\\.)*"|[^;\n]*)(;)/g, '$1?$3'],
  [/(no such column: )"[\s\S]*?"( - should this be a string literal)/g, '$1"?"$2'],
  [/(hex literal too big: )-?\S+/g, '$1?'],
];

/** A single-quoted string, as SQLite's `%Q` writes one; not an apostrophe inside a word (`can't`). */
const SINGLE_QUOTED = /(^|[^\p{L}\p{N}_'])'(?:[^']|'')*'/gu;

export function sanitizeErrorText(text: string): string {
  let out = text.replace(SQL_TOKEN, (all, before: string, token: string, after: string) =>
    tokenize(token).some((t) => t.kind === 'literal') ? `${before}?${after}` : all,
  );
  for (const [pattern, replacement] of ALWAYS_VALUES) out = out.replace(pattern, replacement);
  return out.replace(SINGLE_QUOTED, '$1?');
}

/**
 * For a statement's own error: `no such column: x` names a column the SQL wrote, which helps, or
 * one that came from data, as an FTS5 query's column filter does (`MATCH ?` bound to
 * `ssn:078-05-1120` fails with `no such column: ssn`). A name the statement's text does not
 * contain is a value, and becomes `?`.
 */
export function hideUnwrittenNames(text: string, sql: string): string {
  return text.replace(/(no such column: )([^\s"]+)/g, (all, before: string, name: string) => (sql.toLowerCase().includes(name.toLowerCase()) ? all : `${before}?`));
}

/** What `span.recordException` reads from an error, its message and stack sanitised. */
export interface RecordedException {
  readonly name: string;
  readonly code?: string | number;
  readonly message: string;
  readonly stack?: string;
}

/** The exception as `recordException` reads it, its message and stack passed through `clean`. */
export function sanitizedException(error: Error, clean: (text: string) => string = sanitizeErrorText): RecordedException {
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    message: clean(error.message),
    ...(error.stack === undefined ? {} : { stack: clean(error.stack) }),
  };
}
