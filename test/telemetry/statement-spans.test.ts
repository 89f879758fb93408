import Database from 'better-sqlite3';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { flush, onCleanup, telemetryHarness, useAsyncContext, usersPool } from './harness.js';

/** Statement spans: one CLIENT span per statement, however the caller reaches SQLite. */

const SQLITE = 'sqlite';

function expectStatementSpan(span: ReadableSpan, namespace: string, expected: { name: string; operation?: string; text: string }): void {
  expect(span.name).toBe(expected.name);
  expect(span.kind).toBe(SpanKind.CLIENT);
  expect(span.instrumentationScope.name).toBe('otel-sqlite-pool');
  expect(span.attributes['db.system.name']).toBe(SQLITE);
  expect(span.attributes['db.namespace']).toBe(namespace);
  expect(span.attributes['db.operation.name']).toBe(expected.operation);
  expect(span.attributes['db.query.text']).toBe(expected.text);
  expect(span.status.code).toBe(SpanStatusCode.UNSET);
  expect(span.attributes['error.type']).toBeUndefined();
  expect(span.ended).toBe(true);
  const keys = ['db.system.name', 'db.namespace', 'db.query.text', 'db.client.connection.pool.name'];
  if (expected.operation !== undefined) keys.push('db.operation.name', 'db.query.summary');
  expect(Object.keys(span.attributes).sort()).toEqual(keys.sort());
}

/**
 * Wraps a better-sqlite3 prototype method so the test sees the very error object SQLite's
 * binding threw, before any of the package's code could touch it.
 */
function recordThrown(proto: object, method: string): { readonly errors: unknown[] } {
  const target = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method] as (...args: unknown[]) => unknown;
  const seen = { errors: [] as unknown[] };
  target[method] = function (this: unknown, ...args: unknown[]) {
    try {
      return original.apply(this, args);
    } catch (error) {
      seen.errors.push(error);
      throw error;
    }
  };
  onCleanup(() => {
    target[method] = original;
  });
  return seen;
}

function statementProto(): object {
  const db = new Database(':memory:');
  try {
    return Object.getPrototypeOf(db.prepare('SELECT 1')) as object;
  } finally {
    db.close();
  }
}

describe('statement spans', () => {
  it('names run, get, all and iterate spans by the summary and reports the parameterised text', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();

    expect((await lease.run('INSERT INTO users (name, email) VALUES (?, ?)', ['cy', 'cy@example.com'])).changes).toBe(1);
    expect(await lease.get('SELECT name FROM users WHERE id = ?', [1])).toEqual({ name: 'ada' });
    expect(await lease.all('SELECT name FROM main.users WHERE id > :min ORDER BY id', { min: 1 })).toEqual([{ name: 'bob' }, { name: 'cy' }]);
    const iterator = lease.iterate<{ id: number }>('SELECT id FROM "users" ORDER BY id');
    const first = await iterator.next();
    expect(h.spans.getFinishedSpans()).toHaveLength(3); // the iterate span lasts until the rows are read
    const ids: number[] = first.done === true ? [] : [first.value.id];
    for await (const row of iterator) ids.push(row.id);
    expect(ids).toEqual([1, 2, 3]);

    const spans = h.spans.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['INSERT users', 'SELECT users', 'SELECT main.users', 'SELECT "users"']);
    expectStatementSpan(spans[0]!, 'app.db', { name: 'INSERT users', operation: 'INSERT', text: 'INSERT INTO users (name, email) VALUES (?, ?)' });
    expectStatementSpan(spans[1]!, 'app.db', { name: 'SELECT users', operation: 'SELECT', text: 'SELECT name FROM users WHERE id = ?' });
    expectStatementSpan(spans[2]!, 'app.db', { name: 'SELECT main.users', operation: 'SELECT', text: 'SELECT name FROM main.users WHERE id > :min ORDER BY id' });
    expectStatementSpan(spans[3]!, 'app.db', { name: 'SELECT "users"', operation: 'SELECT', text: 'SELECT id FROM "users" ORDER BY id' });
    for (const span of spans) {
      expect(span.attributes['db.client.connection.pool.name']).toBe(pool.poolName);
      expect(span.attributes['db.query.summary']).toBe(span.name);
      // bound values are never reported by default
      expect(Object.keys(span.attributes).filter((k) => k.startsWith('db.query.parameter.'))).toEqual([]);
      expect(JSON.stringify(span.attributes)).not.toContain('cy@example.com');
    }
  });

  it('ends an iterate span when the caller stops early', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();
    for await (const row of lease.iterate<{ id: number }>('SELECT id FROM users ORDER BY id')) {
      expect(row.id).toBe(1);
      break;
    }
    expect(h.span('SELECT users').ended).toBe(true);
    // the connection is usable again: the iterator was closed
    expect(await lease.get('SELECT count(*) AS n FROM users')).toEqual({ n: 2 });
  });

  it('reports exec() text only sanitised, and pragma() with its own span', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();

    await lease.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT DEFAULT 'secret note', total REAL DEFAULT 12.5)");
    await lease.exec("INSERT INTO orders (note) VALUES ('it''s private'); UPDATE orders SET total = 99 WHERE note = x'DEADBEEF'");
    expect(lease.pragma('user_version', { simple: true })).toBe(0);
    lease.pragma('user_version = 42');

    const [create, script, pragmaRead, pragmaWrite] = h.spans.getFinishedSpans();
    expectStatementSpan(create!, 'app.db', {
      name: 'CREATE TABLE orders',
      operation: 'CREATE TABLE',
      text: 'CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT DEFAULT ?, total REAL DEFAULT ?)',
    });
    expectStatementSpan(script!, 'app.db', {
      name: 'INSERT orders UPDATE orders',
      operation: 'INSERT',
      text: 'INSERT INTO orders (note) VALUES (?); UPDATE orders SET total = ? WHERE note = ?',
    });
    expectStatementSpan(pragmaRead!, 'app.db', { name: 'PRAGMA user_version', operation: 'PRAGMA', text: 'PRAGMA user_version' });
    // A pragma's text is raw (it can carry a SQLCipher key): sanitised like exec().
    expectStatementSpan(pragmaWrite!, 'app.db', { name: 'PRAGMA user_version', operation: 'PRAGMA', text: 'PRAGMA user_version = ?' });
    for (const span of h.spans.getFinishedSpans()) {
      for (const literal of ['secret', '12.5', 'private', '99', 'DEADBEEF', '42']) expect(String(span.attributes['db.query.text'])).not.toContain(literal);
    }
  });

  it('traces statements prepared directly on lease.connection, and the shortcuts of the pool', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();

    const statement = lease.connection.prepare('UPDATE users SET email = ? WHERE id = ?');
    statement.run('new@example.com', 1);
    statement.run('other@example.com', 2);
    const spans = h.spansNamed('UPDATE users');
    expect(spans).toHaveLength(2);
    for (const span of spans) expectStatementSpan(span, 'app.db', { name: 'UPDATE users', operation: 'UPDATE', text: 'UPDATE users SET email = ? WHERE id = ?' });

    h.spans.reset();
    await lease[Symbol.asyncDispose]();
    expect(await pool.get('SELECT email FROM users WHERE id = ?', [1])).toEqual({ email: 'new@example.com' });
    await pool.run('DELETE FROM users WHERE id = ?', [2]);
    await pool.exec('CREATE INDEX users_email ON users (email)');
    expect(h.spans.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT).map((s) => s.name)).toEqual([
      'SELECT users',
      'DELETE users',
      'CREATE INDEX users_email',
    ]);
  });

  it('falls back to "sqlite" when the statement has no recognisable operation', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();
    expect(await lease.all('VALUES (1), (2)')).toHaveLength(2);
    const span = h.span('sqlite');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes['db.system.name']).toBe('sqlite');
    expect(span.attributes['db.operation.name']).toBeUndefined();
    expect(span.attributes['db.query.summary']).toBeUndefined();
    expect(span.attributes['db.query.text']).toBe('VALUES (?), (?)'); // literals are sanitised on every path
  });

  it('traces every statement of a transaction, COMMIT and ROLLBACK included', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await pool.initialize();
    h.spans.reset();

    await pool.transaction(async (lease) => {
      await lease.run('INSERT INTO users (name) VALUES (?)', ['cy']);
      await lease.run('UPDATE users SET email = NULL WHERE name = ?', ['cy']);
    });
    const names = (): string[] => h.spans.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT).map((s) => s.name);
    expect(names()).toEqual(['BEGIN', 'INSERT users', 'UPDATE users', 'COMMIT']);
    expect(h.span('BEGIN').attributes['db.query.text']).toBe('BEGIN IMMEDIATE');

    h.spans.reset();
    const failure = new Error('changed my mind');
    await expect(
      pool.transaction(async (lease) => {
        await lease.run('DELETE FROM users');
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(names()).toEqual(['BEGIN', 'DELETE users', 'ROLLBACK']);
    for (const span of h.spans.getFinishedSpans()) expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(await pool.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
  });

  it('traces the statements inside better-sqlite3’s own transaction() helper', async () => {
    const h = telemetryHarness();
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    const insert = lease.connection.prepare('INSERT INTO users (name) VALUES (?)');
    const insertMany = lease.connection.transaction((names: string[]) => {
      for (const name of names) insert.run(name);
    });
    h.spans.reset();
    insertMany(['cy', 'di']);
    // BEGIN and COMMIT go through the native handle, beneath the pool: only the statements show.
    expect(h.spans.getFinishedSpans().map((s) => s.name)).toEqual(['INSERT users', 'INSERT users']);
    expect(await lease.get('SELECT count(*) AS n FROM users')).toEqual({ n: 4 });
  });

  it('records a failed statement: status ERROR, SQLite code, exception event, and the very error better-sqlite3 threw', async () => {
    const h = telemetryHarness();
    const proto = statementProto();
    const thrownByRun = recordThrown(proto, 'run');
    const thrownByGet = recordThrown(proto, 'get');
    const thrownByExec = recordThrown(Database.prototype, 'exec');
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();

    let caught: unknown;
    try {
      await lease.run('INSERT INTO users (name) VALUES (?)', ['ada']);
    } catch (error) {
      caught = error;
    }
    expect(thrownByRun.errors).toHaveLength(1);
    expect(caught).toBe(thrownByRun.errors[0]);
    expect(caught).toBeInstanceOf(Database.SqliteError);
    expect((caught as { code: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');

    const span = h.span('INSERT users');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toBe((caught as Error).message);
    expect(span.attributes['db.response.status_code']).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(span.attributes['error.type']).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(span.attributes['db.query.text']).toBe('INSERT INTO users (name) VALUES (?)');
    const exception = span.events.find((e) => e.name === 'exception');
    expect(exception?.attributes?.['exception.message']).toBe((caught as Error).message);
    expect(exception?.attributes?.['exception.stacktrace']).toBe((caught as Error).stack);

    // get() on a statement whose table vanished, and exec() with a bad script
    lease.connection.exec('CREATE TABLE gone (x)');
    const select = lease.connection.prepare('SELECT x FROM gone');
    lease.connection.exec('DROP TABLE gone');
    let caughtGet: unknown;
    try {
      select.get();
    } catch (error) {
      caughtGet = error;
    }
    expect(caughtGet).toBe(thrownByGet.errors[0]);
    let caughtExec: unknown;
    try {
      await lease.exec("INSERT INTO nowhere VALUES ('x')");
    } catch (error) {
      caughtExec = error;
    }
    expect(caughtExec).toBe(thrownByExec.errors.at(-1));
    const execSpan = h.span('INSERT nowhere');
    expect(execSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(execSpan.attributes['error.type']).toBe('SQLITE_ERROR');
    expect(execSpan.attributes['db.response.status_code']).toBe('SQLITE_ERROR');
    expect(execSpan.attributes['db.query.text']).toBe('INSERT INTO nowhere VALUES (?)');
    // the connection is still healthy after the caller's SQL errors
    expect(lease.healthyConnection.status).toBe('healthy');
  });

  it('records an iterate() that fails mid-way, and rethrows the very error thrown', async () => {
    const h = telemetryHarness();
    const boom = new Error('row 2 is cursed');
    const pool = await usersPool({
      onConnect: (db) => {
        db.function('check_row', (id: unknown) => {
          if (id === 2) throw boom;
          return id;
        });
      },
    });
    await using lease = await pool.getConnection();
    h.spans.reset();
    const seen: unknown[] = [];
    let caught: unknown;
    try {
      for await (const row of lease.iterate<{ v: number }>('SELECT check_row(id) AS v FROM users ORDER BY id')) seen.push(row.v);
    } catch (error) {
      caught = error;
    }
    expect(seen).toEqual([1]);
    expect(caught).toBe(boom);
    const span = h.span('SELECT users');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('Error');
    expect(span.attributes['db.response.status_code']).toBeUndefined(); // not a SQLite code
    expect(span.events.filter((e) => e.name === 'exception')).toHaveLength(1);
    expect(await lease.get('SELECT count(*) AS n FROM users')).toEqual({ n: 2 });
  });

  it('records a statement that fails to prepare as a failed statement span, and rethrows the original error', async () => {
    const h = telemetryHarness();
    const recorded = recordThrown(Database.prototype, 'prepare');
    const pool = await usersPool();
    await using lease = await pool.getConnection();
    h.spans.reset();
    let caught: unknown;
    try {
      lease.connection.prepare('SELECT * FROM missing_table');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(recorded.errors.at(-1));
    const span = h.span('SELECT missing_table');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('SQLITE_ERROR');
    expect(span.attributes['db.response.status_code']).toBe('SQLITE_ERROR');
  });

  it('makes a statement span the child of the caller’s active span, across awaits', async () => {
    useAsyncContext();
    const h = telemetryHarness();
    const pool = await usersPool();
    await pool.initialize();
    h.spans.reset();
    const tracer = h.tracerProvider.getTracer('app');

    const parent = await tracer.startActiveSpan('GET /users', async (span) => {
      await flush();
      const lease = await pool.getConnection();
      await flush();
      try {
        await lease.get('SELECT name FROM users WHERE id = ?', [1]);
        await pool.all('SELECT name FROM users');
      } finally {
        lease.release();
      }
      span.end();
      return span;
    });
    const statements = h.spansNamed('SELECT users');
    expect(statements).toHaveLength(2);
    for (const span of statements) {
      expect(span.spanContext().traceId).toBe(parent.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    }

    // Outside any span, a statement is a root span.
    h.spans.reset();
    expect(trace.getActiveSpan()).toBeUndefined();
    await pool.get('SELECT 1 AS one FROM users LIMIT 1');
    expect(h.span('SELECT users').parentSpanContext).toBeUndefined();
  });
});
