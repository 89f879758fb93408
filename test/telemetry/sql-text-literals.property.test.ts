import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenize, type Token } from '../../src/sql/tokenize.js';
import { queryText, sanitizeSql } from '../../src/telemetry/sql-text.js';

/**
 * `db.query.text` over generated SQL (SELECT, INSERT, UPDATE, DELETE, scripts) with literals in
 * every position a value can take: WHERE, IN lists, VALUES tuples, SET, LIMIT and OFFSET, CASE,
 * function arguments, with comments around them, quoted identifiers and parameters of every form
 * beside them. The generator writes each token with the token the sanitised text must show in its
 * place (a model), so the test does not trust the tokenizer to read the generated SQL.
 *
 * Every literal holds a marker (`S3CR3T` in strings, `98765` in numbers, `CAFE` in blobs), and so
 * does every comment: no marker may survive. Identifiers hold `ID_KEEP`, which must.
 */

const RUNS = 300;

/** One token of generated SQL: its text, and what the sanitised text shows for it (none: a comment). */
interface Atom {
  readonly sql: string;
  readonly model: string | undefined;
  readonly literal?: true;
}

const word = (text: string): Atom => ({ sql: text, model: `word:${text}` });
const punct = (text: string): Atom => ({ sql: text, model: `punct:${text}` });
const param = (text: string): Atom => ({ sql: text, model: `parameter:${text}` });
const ident = (text: string): Atom => ({ sql: text, model: `identifier:${text}` });
const literal = (text: string): Atom => ({ sql: text, model: 'parameter:?', literal: true });
const words = (text: string): Atom[] => text.split(' ').map((w) => (/^[A-Za-z_]/.test(w) ? word(w) : punct(w)));

// --- literals: every form SQLite has, each carrying a marker -----------------------------------

/** Characters that could fool a tokenizer: quotes, comment starts, parameter sigils, semicolons. */
const tricky = fc.constantFrom("'", '"', '`', '[', ']', '-', '--', '/*', '*/', ';', '?', ':a', '@b', '$c', '\n', ' ', 'x', 'é', '0', '\\');
const secretText = fc.array(tricky, { maxLength: 8 }).map((parts) => `S3CR3T${parts.join('')}`);

const stringLiteral = secretText.map((text) => literal(`'${text.replaceAll("'", "''")}'`));
const blobLiteral = fc
  .tuple(fc.constantFrom('x', 'X'), fc.uint8Array({ maxLength: 6 }))
  .map(([x, bytes]) => literal(`${x}'CAFE${Buffer.from(bytes).toString('hex')}'`));
const numberLiteral = fc
  .tuple(fc.nat({ max: 99_999 }), fc.constantFrom('int', 'decimal', 'leading-dot', 'trailing-dot', 'exponent', 'signed-exponent', 'hex', 'separators'))
  .map(([n, form]) => {
    const text = {
      int: `98765${n}`,
      decimal: `98765.${n}`,
      'leading-dot': `.98765${n}`,
      'trailing-dot': `98765${n}.`,
      exponent: `98765e${n % 300}`,
      'signed-exponent': `98765.5E-${n % 300}`,
      hex: `0x98765${n.toString(16).toUpperCase()}`,
      separators: `98765_${n}`,
    }[form];
    return literal(text);
  });
/** A negative number is an operator and a literal: the minus stays, the digits go. */
const literalValue: fc.Arbitrary<Atom[]> = fc.oneof(
  stringLiteral.map((a) => [a]),
  blobLiteral.map((a) => [a]),
  numberLiteral.map((a) => [a]),
  numberLiteral.map((a) => [punct('-'), a]),
);

// --- names and parameters, which must come through as they are --------------------------------

const keepText = fc.array(fc.constantFrom('a', ' ', "'", '1', 'é', '.'), { maxLength: 5 }).map((s) => `ID_KEEP${s.join('')}`);
const quotedIdent: fc.Arbitrary<Atom> = fc.oneof(
  keepText.map((s) => ident(`"${s.replaceAll('"', '""')}"`)),
  keepText.map((s) => ident(`[${s}]`)),
  keepText.map((s) => ident(`\`${s}\``)),
  fc.constant(ident('"4242"')), // digits in double quotes name a column
);
const column: fc.Arbitrary<Atom[]> = fc.oneof(
  fc.constantFrom('email', 'ssn', 'name', 'id', 'total').map((c) => [word(c)]),
  fc.constantFrom('email', 'id').map((c) => [word('u'), punct('.'), word(c)]),
  quotedIdent.map((a) => [a]),
);
const table: fc.Arbitrary<Atom[]> = fc.oneof(
  fc.constantFrom('users', 'orders').map((t) => [word(t)]),
  fc.constant<Atom[]>([word('main'), punct('.'), word('users')]),
  quotedIdent.map((a) => [a]),
);
const parameter: fc.Arbitrary<Atom[]> = fc.constantFrom('?', '?1', '?27', ':email', '@id', '$name', ':ñame').map((p) => [param(p)]);

// --- statements ---------------------------------------------------------------------------------

const join = (parts: Atom[][], separator: Atom[] = [punct(',')]): Atom[] => parts.flatMap((part, i) => (i === 0 ? part : [...separator, ...part]));
const list = <T>(arb: fc.Arbitrary<T>, max = 3): fc.Arbitrary<T[]> => fc.array(arb, { minLength: 1, maxLength: max });

/** The grammar, for values drawn from `leaf` (literals, parameters and columns, or no literals). */
function statements(leaf: fc.Arbitrary<Atom[]>): fc.Arbitrary<Atom[]> {
  const { value } = fc.letrec<{ value: Atom[] }>((tie) => ({
    value: fc.oneof(
      { maxDepth: 2, depthSize: 'xsmall', withCrossShrink: true },
      leaf,
      // function arguments
      fc.tuple(fc.constantFrom('lower', 'coalesce', 'substr', 'json_extract'), list(tie('value'), 3)).map(([f, args]) => [word(f), punct('('), ...join(args), punct(')')]),
      // CASE
      fc.tuple(column, tie('value'), tie('value'), tie('value')).map(([c, when, then, otherwise]) => [
        word('CASE'), word('WHEN'), ...c, punct('='), ...when, word('THEN'), ...then, word('ELSE'), ...otherwise, word('END'),
      ]),
      // arithmetic and concatenation
      fc.tuple(tie('value'), fc.constantFrom('+', '*', '||', '%'), tie('value')).map(([l, op, r]) => [...l, punct(op), ...r]),
      tie('value').map((v) => [punct('('), ...v, punct(')')]),
    ),
  }));
  const condition: fc.Arbitrary<Atom[]> = fc.oneof(
    fc.tuple(column, fc.constantFrom('=', '<>', '!=', '<=', '>', 'LIKE'), value).map(([c, op, v]) => [...c, op === 'LIKE' ? word(op) : punct(op), ...v]),
    fc.tuple(column, fc.boolean(), list(value)).map(([c, not, vs]) => [...c, ...(not ? [word('NOT')] : []), word('IN'), punct('('), ...join(vs), punct(')')]),
    fc.tuple(column, value, value).map(([c, lo, hi]) => [...c, word('BETWEEN'), ...lo, word('AND'), ...hi]),
    column.map((c) => [...c, ...words('IS NOT NULL')]),
  );
  const where = list(condition, 3).map((cs) => [word('WHERE'), ...join(cs, [word('AND')])]);
  const optional = (arb: fc.Arbitrary<Atom[]>): fc.Arbitrary<Atom[]> => fc.option(arb, { nil: [] as Atom[] });
  const limit = fc.tuple(value, optional(value.map((v) => [word('OFFSET'), ...v]))).map(([l, offset]) => [word('LIMIT'), ...l, ...offset]);
  const select = fc
    .tuple(list(fc.oneof(column, value)), table, optional(where), optional(column.map((c) => [...words('ORDER BY'), ...c])), optional(limit))
    .map(([cols, t, w, order, l]) => [word('SELECT'), ...join(cols), word('FROM'), ...t, ...w, ...order, ...l]);
  const tuple = list(value, 3).map((vs) => [punct('('), ...join(vs), punct(')')]);
  const insert = fc
    .tuple(table, list(column, 3), list(tuple, 3))
    .map(([t, cols, rows]) => [word('INSERT'), word('INTO'), ...t, punct('('), ...join(cols), punct(')'), word('VALUES'), ...join(rows)]);
  const update = fc
    .tuple(table, list(fc.tuple(column, value).map(([c, v]) => [...c, punct('='), ...v]), 3), optional(where))
    .map(([t, sets, w]) => [word('UPDATE'), ...t, word('SET'), ...join(sets), ...w]);
  const remove = fc.tuple(table, optional(where)).map(([t, w]) => [word('DELETE'), word('FROM'), ...t, ...w]);
  const values = list(tuple, 2).map((rows) => [word('VALUES'), ...join(rows)]); // a literal can come first
  const statement = fc.oneof(select, insert, update, remove, values);
  // a script (exec()) or one statement
  return list(statement, 2).map((ss) => join(ss, [punct(';')]));
}

/**
 * A PRAGMA's argument is a value whatever its quoting (`PRAGMA key = passphrase`, SQLCipher's raw
 * key `PRAGMA key = "x'2DD2...'"`): a word or an identifier there must go as a literal does.
 */
const pragmaValue: fc.Arbitrary<Atom> = fc.oneof(
  stringLiteral,
  numberLiteral,
  fc.nat().map((n) => literal(`S3CR3T_${n}`)),
  blobLiteral.map((blob) => literal(`"${blob.sql.replaceAll('"', '""')}"`)),
  secretText.map((text) => literal(`[${text.replaceAll(']', '')}]`)),
);
const pragma: fc.Arbitrary<Atom[]> = fc
  .tuple(fc.boolean(), fc.constantFrom('key', 'rekey', 'journal_mode', 'table_info'), pragmaValue, fc.boolean())
  .map(([schema, name, value, call]) => [
    word('PRAGMA'),
    ...(schema ? [word('main'), punct('.')] : []),
    word(name),
    ...(call ? [punct('('), value, punct(')')] : [punct('='), value]),
  ]);

/** White space, or a comment holding a secret (padded: `-` then `--` would start the comment early). */
const whitespace = fc.constantFrom(' ', '\n', '\t', '  \n  ');
const commentText = fc.array(fc.constantFrom("'", '"', '?', ' ', 'a', '98765', 'CAFE', ';', '-'), { maxLength: 6 }).map((s) => `S3CR3T${s.join('')}`);
const separatorWithComments = fc.oneof(
  { weight: 3, arbitrary: whitespace },
  commentText.map((text) => ` /* ${text} */ `),
  commentText.map((text) => ` -- ${text}\n`),
);

/** The atoms written out, with a generated separator between each two. */
function render(atoms: fc.Arbitrary<Atom[]>, separator: fc.Arbitrary<string>): fc.Arbitrary<{ sql: string; atoms: Atom[] }> {
  return atoms.chain((list) =>
    fc.array(separator, { minLength: list.length, maxLength: list.length }).map((seps) => ({
      atoms: list,
      sql: list.map((atom, i) => (i === 0 ? atom.sql : seps[i] + atom.sql)).join('') + (seps[0] ?? ''),
    })),
  );
}

/** Each token as `kind:text`; a literal shows as `literal`, which the sanitised text must not have. */
function shape(sql: string): string[] {
  return tokenize(sql).map((t: Token) => (t.kind === 'literal' ? 'literal' : `${t.kind}:${t.text}`));
}

const MARKERS = ['S3CR3T', '98765', 'CAFE'];

describe('db.query.text over generated SQL with literals', () => {
  const withLiterals = render(
    fc.oneof(
      { weight: 4, arbitrary: statements(fc.oneof({ weight: 3, arbitrary: literalValue }, parameter, column)).filter((atoms) => atoms.some((a) => a.literal === true)) },
      { weight: 1, arbitrary: pragma },
    ),
    separatorWithComments,
  );

  it('replaces every literal by ?, keeps everything else, and lets no value through', () => {
    fc.assert(
      fc.property(withLiterals, ({ sql, atoms }) => {
        const sanitized = sanitizeSql(sql);
        for (const marker of MARKERS) expect(sanitized).not.toContain(marker);
        // token for token: a literal became `?`, identifiers and parameters are as written, comments are gone
        expect(shape(sanitized)).toEqual(atoms.flatMap((a) => (a.model === undefined ? [] : [a.model])));
        expect(sanitized.match(/ID_KEEP/g)?.length ?? 0).toBe(sql.match(/ID_KEEP/g)?.length ?? 0);
        // what is exported is that sanitised text, on every path
        expect(queryText(sql)).toBe(sanitized);
        expect(queryText(sql, 40)).toBe(sanitized.slice(0, 40));
      }),
      { numRuns: RUNS },
    );
  });

  it('passes a parameterised text without comments through exactly as written', () => {
    const parameterised = render(statements(fc.oneof(parameter, column)), whitespace);
    fc.assert(
      fc.property(parameterised, ({ sql }) => {
        expect(queryText(sql)).toBe(sql);
        expect(queryText(sql, 25)).toBe(sql.slice(0, 25));
      }),
      { numRuns: RUNS },
    );
  });

  it('drops the comments of a parameterised text, which may hold what a literal would', () => {
    const commented = render(statements(fc.oneof(parameter, column)), separatorWithComments).filter(({ sql }) => sql.includes('S3CR3T'));
    fc.assert(
      fc.property(commented, ({ sql, atoms }) => {
        const exported = queryText(sql);
        expect(exported).not.toContain('S3CR3T');
        expect(shape(exported)).toEqual(atoms.map((a) => a.model));
      }),
      { numRuns: RUNS },
    );
  });
});
