/**
 * SQLite's lexical structure, enough to tell words, identifiers, literals, parameters and
 * punctuation apart: comments vanish, strings, numbers and blobs become literals. Telemetry's
 * summary and sanitiser and the pool's script handling share it, so a literal can never leak
 * through a comment, a quoted identifier or a blob.
 */

type Lexeme =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'identifier'; readonly text: string }
  | { readonly kind: 'literal' }
  | { readonly kind: 'parameter'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string };

/** A token, and whether white space or a comment came before it: the sanitiser puts one space there, and only there. */
export type Token = Lexeme & { readonly spaced: boolean };

/** Splits SQL into tokens; comments vanish, strings, numbers and blobs become literals. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let gap = false;
  const push = (lexeme: Lexeme): void => {
    tokens.push({ ...lexeme, spaced: gap });
    gap = false;
  };
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
      gap = true;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
      gap = true;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      gap = true;
    } else if (c === "'") {
      i = skipQuoted(sql, i, "'");
      push({ kind: 'literal' });
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      i = skipQuoted(sql, i + 1, "'");
      push({ kind: 'literal' });
    } else if (c === '"' || c === '`') {
      const end = skipQuoted(sql, i, c);
      // An identifier that never closes swallows the rest of the text: hide it like a literal.
      push(end > n ? { kind: 'literal' } : { kind: 'identifier', text: sql.slice(i, end) });
      i = end;
    } else if (c === '[') {
      const end = sql.indexOf(']', i + 1);
      const stop = end < 0 ? n : end + 1;
      push(end < 0 ? { kind: 'literal' } : { kind: 'identifier', text: sql.slice(i, stop) });
      i = stop;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      i = skipNumber(sql, i);
      push({ kind: 'literal' });
    } else if (c === '?' || c === ':' || c === '@' || c === '$') {
      let end = i + 1;
      while (end < n && /[0-9a-zA-Z_$\u0080-\uffff]/.test(sql[end] as string)) end++;
      push({ kind: 'parameter', text: sql.slice(i, end) });
      i = end;
    } else if (/[a-zA-Z_\u0080-\uffff]/.test(c)) {
      let end = i + 1;
      while (end < n && /[0-9a-zA-Z_$\u0080-\uffff]/.test(sql[end] as string)) end++;
      push({ kind: 'word', text: sql.slice(i, end) });
      i = end;
    } else {
      // Two-character operators stay together so the sanitised text reads naturally.
      const pair = sql.slice(i, i + 2);
      const op = ['<=', '>=', '<>', '!=', '==', '||', '<<', '>>', '->'].includes(pair) ? pair : c;
      push({ kind: 'punct', text: op });
      i += op.length;
    }
  }
  return tokens;
}

/**
 * The index after a number: `42`, `1_000`, `3.14`, `.5`, `1.`, `1e5`, `2.5E-3`, `0x1F`. Letters
 * and dots run on into the token (`12abc` is one bad token to SQLite too), so no part of a
 * malformed number is left looking like a word. A sign is an operator (`-5` is `-` and `5`), except
 * right after a decimal exponent; in hex (`0x1e-5` is `0x1e` minus 5) `e` is a digit.
 */
function skipNumber(sql: string, start: number): number {
  const hex = sql[start] === '0' && (sql[start + 1] === 'x' || sql[start + 1] === 'X');
  let i = start + 1;
  while (i < sql.length && /[0-9a-zA-Z_.]/.test(sql[i] as string)) {
    if (!hex && (sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '-' || sql[i + 1] === '+')) i++;
    i++;
  }
  return i;
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

/** Whether a script is one statement (a trailing `;` aside): then a failed attempt had no effect. */
export function isSingleStatement(sql: string): boolean {
  const tokens = tokenize(sql);
  let end = tokens.length;
  while (end > 0 && tokens[end - 1]?.kind === 'punct' && (tokens[end - 1] as { text: string }).text === ';') end--;
  for (let i = 0; i < end; i++) {
    const token = tokens[i] as Token;
    if (token.kind === 'punct' && token.text === ';') return false;
  }
  return end > 0;
}
