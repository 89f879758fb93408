import { describe, expect, it } from 'vitest';
import { isSingleStatement, tokenize, type Token } from '../../src/sql/tokenize.js';

/** SQLite's lexical forms, as the sanitiser and the summary see them. */

/** Each token as `kind:text` (a literal has no text: it is never kept). */
function shape(sql: string): string[] {
  return tokenize(sql).map((t: Token) => (t.kind === 'literal' ? 'literal' : `${t.kind}:${t.text}`));
}

describe('tokenize', () => {
  it.each([
    // strings: doubled quotes are escapes, newlines are content, an unterminated one swallows the rest
    ["'it''s'", ['literal']],
    ["'a''''b' c", ['literal', 'word:c']],
    ["'two\nlines' x", ['literal', 'word:x']],
    ["'never closed FROM t", ['literal']],
    ["''", ['literal']],
    // blobs, either case, unterminated too
    ["x'CAFE' X'00ff'", ['literal', 'literal']],
    ["x'CAFE", ['literal']],
    // numbers: integers, decimals, exponents, hex, digit separators, malformed runs as one token
    ['42 1_000_000 3.14 .5 1. 1e5 2.5E-3 7e+2', ['literal', 'literal', 'literal', 'literal', 'literal', 'literal', 'literal', 'literal']],
    ['0x1F 0XABCDEF', ['literal', 'literal']],
    ['0x1e-5', ['literal', 'punct:-', 'literal']],
    ['12abc', ['literal']],
    // a sign is an operator
    ['-5 - -.5', ['punct:-', 'literal', 'punct:-', 'punct:-', 'literal']],
    ['a-1', ['word:a', 'punct:-', 'literal']],
    // identifiers are not literals, whatever they look like
    ['"it\'s" [a\'b] `c``d` "x""y"', ['identifier:"it\'s"', "identifier:[a'b]", 'identifier:`c``d`', 'identifier:"x""y"']],
    ['"123" [42]', ['identifier:"123"', 'identifier:[42]']],
    // an identifier that never closes hides the rest like a literal would
    ['"never closed', ['literal']],
    ['[never closed', ['literal']],
    // parameters, unicode names included
    ['? ?12 :name @at $dollar :ñame', ['parameter:?', 'parameter:?12', 'parameter::name', 'parameter:@at', 'parameter:$dollar', 'parameter::ñame']],
    // words: keywords, names with digits and $, unicode
    ['col1 a$b résumé NULL TRUE', ['word:col1', 'word:a$b', 'word:résumé', 'word:NULL', 'word:TRUE']],
    // comments vanish, with whatever they hold; an unterminated one runs to the end
    ["a -- 'x' 42\nb /* 'y' */ c /* never closed 'z'", ['word:a', 'word:b', 'word:c']],
    // operators
    ['a<=b||c->>d', ['word:a', 'punct:<=', 'word:b', 'punct:||', 'word:c', 'punct:->', 'punct:>', 'word:d']],
  ])('%s', (sql, expected) => {
    expect(shape(sql)).toEqual(expected);
  });

  it('remembers where white space or a comment came before a token, and only there', () => {
    expect(tokenize("lower('x')  /* c */|| a.b").map((t) => t.spaced)).toEqual([false, false, false, false, true, true, false, false]);
  });

  it('tells one statement from a script', () => {
    expect(isSingleStatement('SELECT 1;')).toBe(true);
    expect(isSingleStatement("SELECT ';'")).toBe(true);
    expect(isSingleStatement('SELECT 1; SELECT 2')).toBe(false);
    expect(isSingleStatement('-- nothing')).toBe(false);
  });
});
