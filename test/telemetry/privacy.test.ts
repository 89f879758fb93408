import path from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { DatabaseManager } from '../../src/pool/database-manager.js';
import { newPool, telemetryHarness, type Harness } from './harness.js';

/**
 * Nothing private in a span or a metric, with `enhancedDatabaseReporting` off: a statement written
 * with literals (an email, a social security number, a card number, a blob) goes through every
 * path a statement can take, and a statement fails with SQLite quoting one of them. No exported
 * span (name, attributes, events, status) and no metric point may hold one of the values, nor the
 * directory of the database file; each path must still have left its span.
 */

const EMAIL = 'alice@example.com';
const SSN = '078-05-1120';
const CARD = '4111111111111111';
const BLOB = 'CAFEBABE01';
const NOTE = "it''s a secret note"; // as written in SQL: an escaped quote
const SECRETS = [EMAIL, SSN, CARD, BLOB, 'secret note', '31337', SSN.replaceAll('-', '')];

/** Every string the exporters received: span names, attributes, events, status; metric point attributes. */
async function exported(h: Harness): Promise<{ spans: ReadableSpan[]; text: string }> {
  const spans = h.spans.getFinishedSpans();
  const parts: unknown[] = [];
  const add = (attributes: Attributes | undefined): void => void parts.push(...Object.entries(attributes ?? {}).flat());
  for (const span of spans) {
    parts.push(span.name, span.status.message);
    add(span.attributes);
    for (const event of span.events) {
      parts.push(event.name);
      add(event.attributes);
    }
  }
  for (const m of (await h.reader.metrics()).values()) for (const point of m.dataPoints) add(point.attributes);
  return { spans, text: JSON.stringify(parts) };
}

/** The statements, through every path the mode has. */
async function exercise(pool: DatabaseManager): Promise<void> {
  await pool.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, ssn TEXT, card INTEGER, avatar BLOB, note TEXT)');
  // the pool's shortcuts
  await pool.run(`INSERT INTO users (email, ssn, card, avatar) VALUES ('${EMAIL}', '${SSN}', ${CARD}, x'${BLOB}')`);
  expect(await pool.get(`SELECT id FROM users WHERE email = '${EMAIL}' AND ssn = '${SSN}'`)).toEqual({ id: 1 });
  expect(await pool.all(`SELECT id FROM users WHERE card IN (${CARD}, -${CARD}) LIMIT 31337`)).toEqual([{ id: 1 }]);
  // exec(), a comment included
  await pool.exec(`UPDATE users SET note = '${NOTE}' WHERE ssn = '${SSN}'; -- for ${EMAIL}\nUPDATE users SET card = ${CARD} WHERE id = 1`);
  await pool.withLease(async (lease) => {
    expect(await lease.get(`SELECT count(*) AS n FROM users WHERE avatar = X'${BLOB}'`)).toEqual({ n: 1 });
    const rows: unknown[] = [];
    for await (const row of lease.iterate(`SELECT email FROM users WHERE ssn = '${SSN}' OR card = ${CARD}`)) rows.push(row);
    expect(rows).toEqual([{ email: EMAIL }]);
    await lease.transaction(async () => {
      await lease.run(`UPDATE users SET email = lower('${EMAIL}') WHERE ssn = '${SSN}'`);
    });
    if (pool.mode === 'thread') {
      // prepared through the lease, run each way, and through the bound better-sqlite3 handle
      const select = lease.prepare(`SELECT id FROM users WHERE ssn = '${SSN}'`);
      expect(select.get()).toEqual({ id: 1 });
      expect(select.all()).toEqual([{ id: 1 }]);
      expect([...select.iterate()]).toEqual([{ id: 1 }]);
      expect(lease.prepare(`UPDATE users SET card = ${CARD} WHERE email = '${EMAIL}'`).run().changes).toBe(1);
      expect(lease.connection.prepare(`SELECT CASE WHEN card = ${CARD} THEN '${SSN}' END AS v FROM users`).get()).toEqual({ v: SSN });
      lease.pragma('user_version = 31337');
    }
  });
  // statements inside db.transaction(), a shortcut joining it
  await pool.transaction(async (lease) => {
    await lease.run(`UPDATE users SET note = '${NOTE}' WHERE card = ${CARD}`);
    await pool.get(`SELECT note FROM users WHERE email = '${EMAIL}'`);
  });
  // failures whose SQLite message quotes a literal
  await expect(pool.get(`SELECT * FROM users WHERE ssn = '${SSN}' '${SSN}'`)).rejects.toThrow(`near "'${SSN}'": syntax error`);
  await expect(pool.all(`SELECT * FROM users WHERE card = ${CARD} ${CARD}`)).rejects.toThrow(`near "${CARD}": syntax error`);
  await expect(pool.run(`UPDATE users SET ssn = '${SSN}`)).rejects.toThrow('unrecognized token');
  await expect(pool.get(`SELECT json_extract('{}', '${SSN}') AS v`)).rejects.toThrow(`bad JSON path: '${SSN}'`);
  await expect(pool.exec(`INSERT INTO users (email) VALUES ('${EMAIL}') '${EMAIL}'`)).rejects.toThrow('syntax error');
  // failures whose message carries a bound value or a path: an FTS5 query from a search box, an ATTACH
  await pool.exec('CREATE VIRTUAL TABLE notes USING fts5(body)');
  await expect(pool.all('SELECT * FROM notes WHERE notes MATCH ?', [`ssn${SSN.replaceAll('-', '')}:1`])).rejects.toThrow('no such column');
  await expect(pool.all('SELECT * FROM notes WHERE notes MATCH ?', [`NEAR(a b, ${CARD}x)`])).rejects.toThrow('expected integer');
  await expect(pool.run('ATTACH DATABASE ? AS other', [`/nonexistent/${SSN}/other.db`])).rejects.toThrow('unable to open database');
}

describe.each(['thread', 'worker'] as const)('nothing private in telemetry (%s mode)', (mode) => {
  it('exports no literal, no value SQLite quotes in an error, and no directory, on any path', async () => {
    const h = telemetryHarness();
    const pool = newPool({
      mode,
      poolSize: 2,
      // a probe query with a literal: health-check spans must not carry it either
      healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0, query: `SELECT 1 WHERE '${SSN}' <> ''` },
    });
    await pool.initialize();
    await exercise(pool);
    await pool.getConnectionStats();
    await pool.close();

    const { spans, text } = await exported(h);
    for (const secret of SECRETS) expect(text, secret).not.toContain(secret);
    expect(text).not.toContain(path.dirname(pool.namespace));

    // Every path left its span, with the sanitised text.
    const texts = spans.map((s) => s.attributes['db.query.text']);
    expect(texts).toEqual(
      expect.arrayContaining([
        'INSERT INTO users (email, ssn, card, avatar) VALUES (?, ?, ?, ?)',
        'SELECT id FROM users WHERE email = ? AND ssn = ?',
        'SELECT id FROM users WHERE card IN (?, -?) LIMIT ?',
        'UPDATE users SET note = ? WHERE ssn = ?; UPDATE users SET card = ? WHERE id = ?',
        'SELECT count(*) AS n FROM users WHERE avatar = ?',
        'SELECT email FROM users WHERE ssn = ? OR card = ?',
        'UPDATE users SET email = lower(?) WHERE ssn = ?',
        'BEGIN IMMEDIATE',
        'UPDATE users SET note = ? WHERE card = ?',
        'SELECT note FROM users WHERE email = ?',
        'COMMIT',
        'SELECT * FROM users WHERE ssn = ? ?',
        'SELECT * FROM users WHERE card = ? ?',
        'UPDATE users SET ssn = ?',
        'SELECT json_extract(?, ?) AS v',
        'INSERT INTO users (email) VALUES (?) ?',
      ]),
    );
    if (mode === 'thread') {
      expect(texts).toEqual(
        expect.arrayContaining([
          'SELECT id FROM users WHERE ssn = ?',
          'UPDATE users SET card = ? WHERE email = ?',
          'SELECT CASE WHEN card = ? THEN ? END AS v FROM users',
          'PRAGMA user_version = ?',
        ]),
      );
      expect(spans.filter((s) => s.attributes['db.query.text'] === 'SELECT id FROM users WHERE ssn = ?')).toHaveLength(3); // get(), all(), iterate()
    }
    // The failures were recorded, their messages sanitised.
    const failed = spans.filter((s) => s.status.message !== undefined && /syntax error|unrecognized token|bad JSON path/.test(s.status.message));
    expect(failed.map((s) => s.status.message).sort()).toEqual(['bad JSON path: ?', 'near "?": syntax error', 'near "?": syntax error', 'near "?": syntax error', 'unrecognized token: "?"'].sort());
    for (const span of failed) expect(span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe(span.status.message);
    // The values that came from data (an FTS5 query, an ATTACH path bound) are gone from their messages.
    const fromData = spans.filter((s) => s.status.message !== undefined && /no such column|expected integer|unable to open database/.test(s.status.message));
    expect(fromData.map((s) => s.status.message).sort()).toEqual(['expected integer, got "?"', 'no such column: ?', 'unable to open database: ?']);
    expect(spans.filter((s) => s.name === 'sqlite_pool.health_check').length).toBeGreaterThan(0);
  });
});

describe('enhancedDatabaseReporting', () => {
  it('adds the bound values, and nothing else: the text stays sanitised', async () => {
    const h = telemetryHarness({ enhancedDatabaseReporting: true });
    const pool = newPool();
    await pool.exec('CREATE TABLE users (email TEXT, ssn TEXT)');
    await pool.run(`INSERT INTO users (email, ssn) VALUES (?, '${SSN}')`, [EMAIL]);
    const span = h.span('INSERT users');
    expect(span.attributes['db.query.text']).toBe('INSERT INTO users (email, ssn) VALUES (?, ?)');
    expect(span.attributes['db.query.parameter.0']).toBe(EMAIL);
    expect(JSON.stringify(span.attributes)).not.toContain(SSN);
  });
});
