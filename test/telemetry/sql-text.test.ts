import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeSql, queryText, sanitizeSql, summarizeSql } from '../../src/telemetry/sql-text.js';

/** The query summary (span names), the sanitiser, and `db.query.text` (sanitised on every path when it must be). */

describe('summarizeSql', () => {
  it.each([
    ['SELECT * FROM users WHERE id = ?', 'SELECT users', 'SELECT'],
    ['INSERT INTO orders (id, total) SELECT id, total FROM carts WHERE ready = 1', 'INSERT orders SELECT carts', 'INSERT'],
    ['CREATE TABLE users (id INTEGER PRIMARY KEY)', 'CREATE TABLE users', 'CREATE TABLE'],
    ['CREATE TABLE IF NOT EXISTS main.users (id INTEGER)', 'CREATE TABLE main.users', 'CREATE TABLE'],
    ['CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (email)', 'CREATE INDEX users_email', 'CREATE INDEX'],
    ['CREATE TEMP VIEW v AS SELECT * FROM users', 'CREATE VIEW v SELECT users', 'CREATE VIEW'],
    ['DROP TABLE IF EXISTS "order items"', 'DROP TABLE "order items"', 'DROP TABLE'],
    ['ALTER TABLE users ADD COLUMN age INTEGER', 'ALTER TABLE users', 'ALTER TABLE'],
    ['SELECT * FROM main.users u JOIN orders o ON o.user_id = u.id', 'SELECT main.users', 'SELECT'],
    ['SELECT * FROM "weird ""name"""', 'SELECT "weird ""name"""', 'SELECT'],
    ['SELECT * FROM [my table]', 'SELECT [my table]', 'SELECT'],
    ['SELECT * FROM `tbl`', 'SELECT `tbl`', 'SELECT'],
    ['SELECT * FROM "main"."users"', 'SELECT "main"."users"', 'SELECT'],
    ['UPDATE users SET name = ? WHERE id = ?', 'UPDATE users', 'UPDATE'],
    ['DELETE FROM users WHERE id = ?', 'DELETE users', 'DELETE'],
    ['REPLACE INTO kv VALUES (?, ?)', 'REPLACE kv', 'REPLACE'],
    ['PRAGMA main.journal_mode = WAL', 'PRAGMA main.journal_mode', 'PRAGMA'],
    ['BEGIN IMMEDIATE', 'BEGIN', 'BEGIN'],
    ['select * from Users', 'select Users', 'select'], // as written: no case normalisation (semconv)
    ['SELECT a FROM t UNION SELECT a FROM t', 'SELECT t', 'SELECT'],
    ['EXPLAIN QUERY PLAN SELECT * FROM users', 'EXPLAIN SELECT users', 'EXPLAIN'],
    ['INSERT INTO t DEFAULT VALUES; DELETE FROM t', 'INSERT t DELETE t', 'INSERT'],
    // CTEs: the CTE's query, then the main statement
    ['WITH recent AS (SELECT * FROM orders WHERE created > ?) SELECT * FROM recent JOIN users ON users.id = recent.user_id', 'SELECT orders SELECT recent', 'SELECT'],
    ['WITH old AS (SELECT id FROM sessions WHERE at < ?) DELETE FROM sessions WHERE id IN old', 'SELECT sessions DELETE sessions', 'SELECT'],
    // comments and literals never name anything
    ['-- DELETE FROM users\nSELECT * FROM users /* DROP TABLE users */ WHERE 1', 'SELECT users', 'SELECT'],
    ["SELECT 'FROM secrets' FROM users", 'SELECT users', 'SELECT'],
    // keywords that are not statements: conflict clauses, upserts, functions, CASE ... END
    ['INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)', 'INSERT kv', 'INSERT'],
    ['INSERT OR ROLLBACK INTO kv (k, v) VALUES (?, ?)', 'INSERT kv', 'INSERT'],
    ['UPDATE OR REPLACE users SET name = ?', 'UPDATE users', 'UPDATE'],
    ['INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', 'INSERT kv', 'INSERT'],
    ['CREATE TABLE kv (k TEXT UNIQUE ON CONFLICT REPLACE, v TEXT)', 'CREATE TABLE kv', 'CREATE TABLE'],
    ["SELECT replace(name, 'a', 'b') FROM users", 'SELECT users', 'SELECT'],
    ['SELECT CASE WHEN age > 18 THEN 1 ELSE 0 END AS adult FROM users', 'SELECT users', 'SELECT'],
    ['CREATE TRIGGER audit AFTER UPDATE ON users BEGIN INSERT INTO log VALUES (new.id); END', 'CREATE TRIGGER audit', 'CREATE TRIGGER'],
  ])('%s → %s', (sql, summary, operation) => {
    expect(summarizeSql(sql)).toEqual({ summary, operation });
  });

  it('returns an empty summary when no operation is recognised', () => {
    expect(summarizeSql('VALUES (1), (2)')).toEqual({ summary: '', operation: undefined });
    expect(summarizeSql('-- nothing but a comment')).toEqual({ summary: '', operation: undefined });
    expect(summarizeSql('')).toEqual({ summary: '', operation: undefined });
  });

  it('keeps the summary under 255 characters, cut between words', () => {
    const sql = Array.from({ length: 100 }, (_, i) => `SELECT * FROM table_number_${i}`).join(' UNION ALL ');
    const { summary } = summarizeSql(sql);
    expect(summary.length).toBeLessThanOrEqual(255);
    expect(summary.startsWith('SELECT table_number_0 SELECT table_number_1')).toBe(true);
    expect(summary).toMatch(/table_number_\d+$/);
  });

  it('never puts a literal into a summary', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 100_000 }), (text, n) => {
        const sql = `SELECT * FROM users WHERE name = '${text.replaceAll("'", "''")}' AND id = ${n}`;
        const { summary } = summarizeSql(sql);
        expect(summary).toBe('SELECT users');
      }),
    );
  });
});

describe('sanitizeSql', () => {
  it.each([
    ["SELECT * FROM users WHERE name = 'O''Brien' AND id = 42", 'SELECT * FROM users WHERE name = ? AND id = ?'],
    ['SELECT * FROM t WHERE score > -3.5e-2 AND h = 0x1F AND f = .5 AND g = 1e10', 'SELECT * FROM t WHERE score > -? AND h = ? AND f = ? AND g = ?'],
    ["UPDATE files SET data = x'DEADBEEF', other = X'00ff' WHERE id = 7", 'UPDATE files SET data = ?, other = ? WHERE id = ?'],
    ["SELECT 1 -- 'secret in a comment' 123\nFROM t /* password='hunter2' 999 */ WHERE a = 'x'", 'SELECT ? FROM t WHERE a = ?'],
    ["UPDATE t SET a = 'never closed", 'UPDATE t SET a = ?'],
    ['SELECT "col", [col2], `col3` FROM t WHERE a IN (1, 2, 3) AND b = :b AND c = ?1 AND d = @d AND e = $e AND f = ?', 'SELECT "col", [col2], `col3` FROM t WHERE a IN (?, ?, ?) AND b = :b AND c = ?1 AND d = @d AND e = $e AND f = ?'],
    ["SELECT a || 'x' FROM t WHERE b <= 3 AND c <> 'y' AND d != 4", 'SELECT a || ? FROM t WHERE b <= ? AND c <> ? AND d != ?'],
    ["INSERT INTO t VALUES (1, 'a');\n\n  DELETE FROM t WHERE id = 2", 'INSERT INTO t VALUES (?, ?); DELETE FROM t WHERE id = ?'],
    ['SELECT main.users.name FROM main.users', 'SELECT main.users.name FROM main.users'],
    ["PRAGMA key = 'correct horse battery staple'", 'PRAGMA key = ?'],
    // a pragma's argument is a value, whatever its quoting (SQLCipher's raw key is a quoted identifier)
    ['PRAGMA key = "x\'2DD29CA851E7B56E4697B0E1F08507293D761A05CE4D1B628663F411A8086D99\'"', 'PRAGMA key = ?'],
    ['PRAGMA main.key = passphrase', 'PRAGMA main.key = ?'],
    ['PRAGMA cache_size = -2000; PRAGMA table_info(users)', 'PRAGMA cache_size = -?; PRAGMA table_info(?)'],
  ])('%s', (sql, expected) => {
    expect(sanitizeSql(sql)).toBe(expected);
  });

  it('truncates to maxLength', () => {
    expect(sanitizeSql("SELECT * FROM users WHERE name = 'ada'", 20)).toBe('SELECT * FROM users ');
    expect(sanitizeSql('SELECT 1', 100)).toBe('SELECT ?');
  });

  // Markers that cannot come from the SQL around them: if one survives, a literal leaked.
  const secretText = fc.stringMatching(/^[a-z0-9 '"\-\\/*;]{0,20}$/).map((s) => `S3CR3T${s}`);
  const secretNumber = fc.integer({ min: 0, max: 1_000_000 }).map((n) => `98765${n}`);
  const secretBlob = fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => `CAFE${Buffer.from(bytes).toString('hex')}`);

  it('lets no string, number or blob literal survive, wherever it is', () => {
    fc.assert(
      fc.property(secretText, secretNumber, secretBlob, fc.integer({ min: 0, max: 3 }), (text, number, blob, where) => {
        const quoted = `'${text.replaceAll("'", "''")}'`;
        const sql = [
          `SELECT * FROM t WHERE a = ${quoted} AND b = ${number} AND c = x'${blob}'`,
          `INSERT INTO t VALUES (${quoted}, ${number}, X'${blob}')`,
          `UPDATE t SET a = ${quoted} /* ${quoted} ${number} */ WHERE b IN (${number}, -${number}.5)`,
          `SELECT 1 -- ${text} ${number} x'${blob}'\nFROM t WHERE c = x'${blob}'`,
        ][where] as string;
        const sanitized = sanitizeSql(sql);
        expect(sanitized).not.toContain('S3CR3T');
        expect(sanitized).not.toContain('98765');
        expect(sanitized).not.toContain('CAFE');
      }),
    );
  });

  it('leaves nothing but ? where the literals were, for any text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const sanitized = sanitizeSql(`SELECT '${text.replaceAll("'", "''")}' AS v`);
        expect(sanitized).toBe('SELECT ? AS v');
      }),
    );
  });
});

describe('queryText (db.query.text)', () => {
  it.each([
    // literals: sanitised, whatever the statement is
    ["SELECT * FROM users WHERE email = 'alice@example.com' AND ssn = '078-05-1120'", 'SELECT * FROM users WHERE email = ? AND ssn = ?'],
    ['SELECT * FROM t LIMIT 10', 'SELECT * FROM t LIMIT ?'],
    // a comment is sanitised away too, literal or not
    ['SELECT * FROM users WHERE id = ? -- for alice@example.com', 'SELECT * FROM users WHERE id = ?'],
    ['SELECT /* tenant 42 */ * FROM users WHERE id = ?', 'SELECT * FROM users WHERE id = ?'],
    // neither: exactly as written, layout and quoted identifiers included
    ['SELECT *\n  FROM "e-mail"   WHERE id = :id AND [k] = @k AND `v` = $v AND w = ?1', 'SELECT *\n  FROM "e-mail"   WHERE id = :id AND [k] = @k AND `v` = $v AND w = ?1'],
    ['SELECT * FROM t WHERE a IS NULL AND b = TRUE', 'SELECT * FROM t WHERE a IS NULL AND b = TRUE'],
    ['PRAGMA user_version', 'PRAGMA user_version'],
    ['PRAGMA journal_mode = WAL', 'PRAGMA journal_mode = ?'],
  ])('%s', (sql, expected) => {
    expect(queryText(sql)).toBe(expected);
    expect(describeSql(sql).text).toBe(expected);
  });

  it('cuts to maxLength either way', () => {
    expect(queryText('SELECT * FROM users WHERE id = ?', 10)).toBe('SELECT * F');
    expect(queryText("SELECT * FROM users WHERE name = 'ada'", 20)).toBe('SELECT * FROM users ');
  });

  it('describes a statement in one pass: summary, operation and text', () => {
    expect(describeSql("INSERT INTO users (email) VALUES ('alice@example.com')")).toEqual({
      summary: 'INSERT users',
      operation: 'INSERT',
      text: 'INSERT INTO users (email) VALUES (?)',
    });
    expect(describeSql('PRAGMA table_info(users)')).toEqual({ summary: 'PRAGMA table_info', operation: 'PRAGMA', text: 'PRAGMA table_info(?)' });
  });
});
