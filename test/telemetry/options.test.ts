import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { SqlitePoolRequestHookInfo, SqlitePoolResponseHookInfo } from '../../src/telemetry/instrumentation.js';
import { flush, histogramCount, metric, newPool, points, telemetryHarness, useAsyncContext, usersPool, value } from './harness.js';

/** The instrumentation's options, each with its default. */

describe('options', () => {
  it('requireParentSpan: statement and acquire spans only inside a trace; metrics always', async () => {
    useAsyncContext();
    const h = telemetryHarness({ requireParentSpan: true });
    expect(h.instrumentation.getConfig().requireParentSpan).toBe(true);
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0 } });
    await pool.initialize();
    h.spans.reset();

    const lease = await pool.getConnection();
    await lease.get('SELECT * FROM users WHERE id = ?', [1]);
    lease.release();
    expect(h.spansNamed('sqlite_pool.acquire')).toEqual([]);
    expect(h.spansNamed('SELECT users')).toEqual([]);

    await h.tracerProvider.getTracer('app').startActiveSpan('job', async (span) => {
      await flush();
      const inner = await pool.getConnection();
      await inner.get('SELECT * FROM users WHERE id = ?', [1]);
      inner.release();
      span.end();
    });
    const job = h.span('job');
    expect(h.span('sqlite_pool.acquire').parentSpanContext?.spanId).toBe(job.spanContext().spanId);
    expect(h.span('SELECT users').parentSpanContext?.spanId).toBe(job.spanContext().spanId);

    const all = await h.reader.metrics();
    expect(histogramCount(metric(all, 'db.client.operation.duration'))).toBe(2);
    expect(histogramCount(metric(all, 'db.client.connection.wait_time'))).toBe(2);
  });

  it('enhancedDatabaseReporting: bound values as db.query.parameter.* only when on', async () => {
    const off = telemetryHarness();
    expect(off.instrumentation.getConfig().enhancedDatabaseReporting).toBeUndefined();
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await using lease = await pool.getConnection();
    const run = async (): Promise<void> => {
      await lease.get('SELECT * FROM users WHERE id = ? AND name = ?', [1, 'ada']);
      await lease.all('SELECT * FROM users WHERE id > :min AND email <> @email', { min: 0, email: 'secret@example.com' });
      lease.connection.prepare('SELECT ? AS bytes, ? AS empty').get(Buffer.from([1, 2, 3]), null);
    };
    await run();
    for (const span of off.spans.getFinishedSpans()) {
      expect(Object.keys(span.attributes).filter((k) => k.startsWith('db.query.parameter'))).toEqual([]);
      expect(JSON.stringify(span.attributes)).not.toContain('secret@example.com');
    }
    off.instrumentation.disable();

    const on = telemetryHarness({ enhancedDatabaseReporting: true });
    await run();
    const [positional, named, blob] = on.spans.getFinishedSpans();
    expect(positional!.attributes).toMatchObject({ 'db.query.parameter.0': '1', 'db.query.parameter.1': 'ada' });
    expect(named!.attributes).toMatchObject({ 'db.query.parameter.min': '0', 'db.query.parameter.email': 'secret@example.com' });
    expect(blob!.attributes).toMatchObject({ 'db.query.parameter.0': '<3 bytes>', 'db.query.parameter.1': 'null' });

    // exec() and pragma() bind nothing: their text (which may hold literals) is no parameter
    on.spans.reset();
    await lease.exec("UPDATE users SET email = 'hidden@example.com' WHERE id = 2");
    lease.pragma('user_version', { simple: true });
    for (const span of on.spans.getFinishedSpans()) {
      expect(Object.keys(span.attributes).filter((k) => k.startsWith('db.query.parameter')), span.name).toEqual([]);
      expect(JSON.stringify(span.attributes)).not.toContain('hidden@example.com');
    }
  });

  it('maxQueryLength: truncates db.query.text (prepared and exec)', async () => {
    const h = telemetryHarness({ maxQueryLength: 20 });
    const pool = await usersPool({ healthCheckConfig: { minHealthyConnections: 1 } });
    await using lease = await pool.getConnection();
    h.spans.reset();
    await lease.get('SELECT name, email FROM users WHERE id = ?', [1]);
    await lease.exec("UPDATE users SET email = 'x' WHERE id = 1");
    const [select, update] = h.spans.getFinishedSpans();
    expect(select!.attributes['db.query.text']).toBe('SELECT name, email F');
    expect(update!.attributes['db.query.text']).toBe('UPDATE users SET ema');
    // the summary is computed from the whole text
    expect(select!.name).toBe('SELECT users');
    h.instrumentation.disable();

    const defaults = telemetryHarness();
    expect(defaults.instrumentation.getConfig().maxQueryLength).toBeUndefined();
    const long = `SELECT ${Array.from({ length: 600 }, (_, i) => `${i} AS c${i}`).join(', ')}`;
    lease.connection.prepare(long).get();
    expect(String(defaults.span('SELECT').attributes['db.query.text'])).toHaveLength(2048);
  });

  it('requestHook and responseHook see each statement; a throwing hook breaks nothing', async () => {
    const requests: SqlitePoolRequestHookInfo[] = [];
    const responses: SqlitePoolResponseHookInfo[] = [];
    const h = telemetryHarness({
      requestHook: (span: Span, info) => {
        requests.push(info);
        span.setAttribute('app.tenant', 'acme');
      },
      responseHook: (span: Span, info) => {
        responses.push(info);
        span.setAttribute('app.rows', Array.isArray(info.result) ? info.result.length : -1);
      },
    });
    const pool = await usersPool({ poolName: 'hooks', healthCheckConfig: { minHealthyConnections: 1 } });
    await using lease = await pool.getConnection();
    h.spans.reset();
    const rows = await lease.all('SELECT * FROM users WHERE id > ?', [0]);
    expect(requests).toEqual([{ sql: 'SELECT * FROM users WHERE id > ?', method: 'all', connectionId: lease.connectionId, poolName: 'hooks', params: [0] }]);
    expect(responses).toEqual([{ method: 'all', result: rows }]);
    expect(h.span('SELECT users').attributes).toMatchObject({ 'app.tenant': 'acme', 'app.rows': 2 });
    // iterate: the span lasts until the rows are read, and the hook runs then (with no result:
    // the rows went to the caller one by one)
    h.spans.reset();
    const iterator = lease.iterate('SELECT id FROM users');
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(responses.at(-1)?.method).toBe('all');
    expect(h.spansNamed('SELECT users')).toEqual([]);
    const read: unknown[] = [first.value];
    for await (const row of iterator) read.push(row);
    expect(read).toHaveLength(2);
    expect(responses.at(-1)).toEqual({ method: 'iterate', result: undefined });
    expect(h.span('SELECT users').attributes).toMatchObject({ 'app.tenant': 'acme', 'app.rows': -1 });
    expect(requests.map((r) => r.method)).toEqual(['all', 'iterate']);
    await lease.exec("DELETE FROM users WHERE email = 'nobody@example.com'");
    expect(requests.at(-1)).toMatchObject({ method: 'exec', sql: "DELETE FROM users WHERE email = 'nobody@example.com'", params: [] });
    h.instrumentation.disable();

    const t = telemetryHarness({
      requestHook: () => {
        throw new Error('request hook bug');
      },
      responseHook: () => {
        throw new Error('response hook bug');
      },
    });
    expect(await lease.all('SELECT * FROM users WHERE id > ?', [0])).toEqual(rows);
    expect((await lease.run('UPDATE users SET email = ? WHERE id = ?', ['z@example.com', 1])).changes).toBe(1);
    const spans = t.spans.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['SELECT users', 'UPDATE users']);
    for (const span of spans) expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('ignoreAcquireSpans: no sqlite_pool.acquire spans, wait time still measured; probes join the caller’s span', async () => {
    useAsyncContext();
    const h = telemetryHarness({ ignoreAcquireSpans: true });
    const pool = newPool({ healthCheckConfig: { minHealthyConnections: 1, cacheDurationMs: 0 } });
    await pool.initialize();
    h.spans.reset();
    await h.tracerProvider.getTracer('app').startActiveSpan('request', async (span) => {
      (await pool.getConnection()).release();
      span.end();
    });
    expect(h.spansNamed('sqlite_pool.acquire')).toEqual([]);
    expect(h.span('sqlite_pool.health_check').parentSpanContext?.spanId).toBe(h.span('request').spanContext().spanId);
    expect(histogramCount(metric(await h.reader.metrics(), 'db.client.connection.wait_time'))).toBe(1);
  });

  it('healthCheckSpans: false drops probe and cycle spans, keeps the probe metric', async () => {
    const h = telemetryHarness({ healthCheckSpans: false });
    const pool = newPool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 2 } });
    await pool.initialize();
    await pool.healthManager.runCycle();
    const names = h.spans.getFinishedSpans().map((s) => s.name);
    expect(names).not.toContain('sqlite_pool.health_check');
    expect(names).not.toContain('sqlite_pool.health_monitor.cycle');
    expect(names.filter((n) => n === 'sqlite_pool.connect')).toHaveLength(2);
    const checks = metric(await h.reader.metrics(), 'sqlite_pool.health_check.duration');
    expect(histogramCount(checks, { 'sqlite_pool.health_check.result': 'success' })).toBe(4);
  });

  it('poolName: a name, or a function of the pool, for db.client.connection.pool.name', async () => {
    const h = telemetryHarness({ poolName: 'primary' });
    const pool = await usersPool({ poolName: 'own-name', healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users');
    const all = await h.reader.metrics();
    for (const m of all.values()) {
      for (const point of m.dataPoints) expect(point.attributes['db.client.connection.pool.name'], m.descriptor.name).toBe('primary');
    }
    for (const span of h.spans.getFinishedSpans()) expect(span.attributes['db.client.connection.pool.name'], span.name).toBe('primary');
    h.instrumentation.disable();

    const f = telemetryHarness({ poolName: (p) => `${p.poolName}@${p.namespace.endsWith('app.db') ? 'app' : '?'}` });
    await pool.get('SELECT * FROM users');
    expect(f.span('SELECT users').attributes['db.client.connection.pool.name']).toBe('own-name@app');
    expect(value(metric(await f.reader.metrics(), 'db.client.connection.max'), { 'db.client.connection.pool.name': 'own-name@app' })).toBe(10);
    expect(points(metric(await f.reader.metrics(), 'db.client.connection.max'), { 'db.client.connection.pool.name': 'own-name' })).toEqual([]);
  });

  it('uses the pool’s own name by default', async () => {
    const h = telemetryHarness();
    expect(h.instrumentation.getConfig().poolName).toBeUndefined();
    const pool = await usersPool({ poolName: 'own-name', healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.get('SELECT * FROM users');
    expect(h.span('SELECT users').attributes['db.client.connection.pool.name']).toBe('own-name');
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
