import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { hideUnwrittenNames, sanitizeErrorText, sanitizedException } from '../../src/telemetry/error-text.js';

/** Error messages as SQLite writes them, and what a span may carry of them. */

const db = new Database(':memory:');
db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT CHECK (email LIKE '%@%')); CREATE VIRTUAL TABLE notes USING fts5(body)");
afterAll(() => db.close());

/** The message SQLite gives for `sql`. */
function messageOf(sql: string): string {
  try {
    db.prepare(sql).run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${sql} did not fail`);
}

describe('sanitizeErrorText', () => {
  it.each([
    // the parser names the token it stopped at: a literal goes, a word stays
    ["SELECT * FROM users WHERE email = 'a@example.com' 'b@example.com'", 'near "\'b@example.com\'": syntax error', 'near "?": syntax error'],
    ["SELECT * FROM users WHERE ssn = '078-05-1120' 1120", 'near "1120": syntax error', 'near "?": syntax error'],
    ['SELECT 1.2.3', 'near ".3": syntax error', 'near "?": syntax error'],
    ["SELECT * FORM users WHERE email = 'a@example.com'", 'near "FORM": syntax error', 'near "FORM": syntax error'],
    // a token SQLite cannot read at all
    ["SELECT 'never closed, 078-05-1120", "unrecognized token: \"'never closed, 078-05-1120\"", 'unrecognized token: "?"'],
    ["SELECT x'CAFE1'", "unrecognized token: \"x'CAFE1'\"", 'unrecognized token: "?"'],
    ['SELECT 1120abc', 'unrecognized token: "1120abc"', 'unrecognized token: "?"'],
    ['SELECT 0x1234567890ABCDEF12', 'hex literal too big: 0x1234567890ABCDEF12', 'hex literal too big: ?'],
    // functions quote their arguments (%Q)
    ["SELECT json_extract('{}', 'secret.path')", "bad JSON path: 'secret.path'", 'bad JSON path: ?'],
    // a double-quoted string SQLite itself takes for a misplaced literal
    ['SELECT * FROM users WHERE email = "a@example.com"', 'no such column: "a@example.com" - should this be a string literal in single-quotes?', 'no such column: "?" - should this be a string literal in single-quotes?'],
    // a CHECK constraint quotes its expression
    ["INSERT INTO users (email) VALUES ('no-at-sign')", "CHECK constraint failed: email LIKE '%@%'", 'CHECK constraint failed: email LIKE ?'],
    // an FTS5 query is a value, whether written in the SQL or bound
    ["SELECT * FROM notes WHERE notes MATCH 'alice)'", 'fts5: syntax error near ")"', 'fts5: syntax error near "?"'],
  ])('%s', (sql, message, sanitized) => {
    expect(messageOf(sql)).toBe(message);
    expect(sanitizeErrorText(message)).toBe(sanitized);
  });

  it('leaves messages that quote no value as they are', () => {
    for (const message of [
      'UNIQUE constraint failed: users.email',
      'no such table: main.missing',
      'no such column: emial',
      'table users has 2 columns but 3 values were supplied',
      'Timed out after 5000 ms waiting for a connection (used 2, idle 0, waiting 1, max 2)',
      "The probe can't run: the handle is closed",
    ]) {
      expect(sanitizeErrorText(message)).toBe(message);
    }
  });
});

describe('sanitizedException', () => {
  it('carries the name, code, message and stack that recordException reads, sanitised', () => {
    let error: Error | undefined;
    try {
      db.prepare("SELECT * FROM users WHERE ssn = '078-05-1120' 'x'").get();
    } catch (caught) {
      error = caught as Error;
    }
    expect(error).toBeInstanceOf(Database.SqliteError);
    const exception = sanitizedException(error!);
    expect(exception).toMatchObject({ name: 'SqliteError', code: 'SQLITE_ERROR', message: 'near "?": syntax error' });
    expect(exception.stack).toMatch(/^SqliteError: near "\?": syntax error\n\s+at /);
    expect(exception.stack).not.toContain("'x'");
    // the caller's error is left as SQLite made it
    expect(error!.message).toBe('near "\'x\'": syntax error');
  });
});

describe('values that reach an error message from data, not from the SQL', () => {
  /** The message SQLite gives for `sql` run with `params`. */
  function boundMessage(sql: string, ...params: unknown[]): string {
    try {
      const statement = db.prepare(sql);
      if (statement.reader) statement.all(...params);
      else statement.run(...params);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`${sql} did not fail`);
  }

  it('hides the path ATTACH and VACUUM INTO could not open, written or bound', () => {
    const written = messageOf("ATTACH DATABASE '/nonexistent/secret-dir/other.db' AS other");
    expect(written).toContain('secret-dir');
    expect(sanitizeErrorText(written)).toBe('unable to open database: ?');
    const bound = boundMessage('VACUUM INTO ?', '/nonexistent/secret-dir/backup.db');
    expect(bound).toContain('secret-dir');
    expect(sanitizeErrorText(bound)).not.toContain('secret-dir');
  });

  it("hides an FTS5 query's column filter and NEAR distance, which come from the bound query", () => {
    const sql = 'SELECT * FROM notes WHERE notes MATCH ?';
    const filter = boundMessage(sql, 'ssn:078-05-1120');
    expect(filter).toBe('no such column: ssn');
    expect(hideUnwrittenNames(filter, sql)).toBe('no such column: ?');
    const near = boundMessage(sql, 'NEAR(a b, secret)');
    expect(near).toContain('secret');
    expect(sanitizeErrorText(near)).not.toContain('secret');
    // A column the SQL itself names is a name, and stays.
    const written = messageOf('SELECT emial FROM users');
    expect(hideUnwrittenNames(written, 'SELECT emial FROM users')).toBe('no such column: emial');
  });

  it("hides the value in the pool's ConfigurationError (a pragma's value may be a key)", () => {
    const error = new ConfigurationError('pragmas.key', 'hunter2-passphrase; with a semicolon', 'SQLite has no pragma of that name');
    expect(sanitizeErrorText(error.message)).toBe('Invalid pragmas.key: ?; SQLite has no pragma of that name');
    expect(sanitizeErrorText(`Could not open a connection to app.db: ${error.message}`)).not.toContain('hunter2');
    expect(sanitizeErrorText(new ConfigurationError('poolSize', 0, 'expected an integer from 1').message)).toBe('Invalid poolSize: ?; expected an integer from 1');
  });
});
