import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, test } from 'vitest';
import { histogramCount, metric, newPool, telemetryHarness, useAsyncContext } from '../telemetry/harness.js';

/**
 * Worker mode reports the same spans and metrics as the in-thread mode: a statement's span
 * covers the round trip to its worker and is a child of the caller's span.
 */
describe('telemetry in worker mode', () => {
  test('a statement span covers the round trip, is a child of the caller span, and carries the same attributes', async () => {
    useAsyncContext();
    const h = telemetryHarness();
    const pool = newPool({ mode: 'worker', poolSize: 2, healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.initialize();
    await pool.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)');
    const tracer = h.tracerProvider.getTracer('test');
    await tracer.startActiveSpan('request', async (parent) => {
      await pool.run('INSERT INTO users (name) VALUES (?)', ['ada']);
      await pool.withLease(async (lease) => {
        expect(await lease.get('SELECT * FROM users WHERE id = ?', [1])).toEqual({ id: 1, name: 'ada' });
      });
      await expect(pool.get('SELECT * FROM nowhere')).rejects.toThrow(/no such table/);
      parent.end();
    });
    const request = h.span('request');
    const select = h.span('SELECT users');
    expect(select.kind).toBe(SpanKind.CLIENT);
    expect(select.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(select.attributes).toMatchObject({
      'db.system.name': 'sqlite',
      'db.namespace': 'app.db',
      'db.operation.name': 'SELECT',
      'db.query.text': 'SELECT * FROM users WHERE id = ?',
      'db.client.connection.pool.name': pool.poolName,
    });
    expect(h.span('INSERT users').parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    const acquire = h.span('sqlite_pool.acquire');
    expect(acquire.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    const failed = h.span('SELECT nowhere');
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes['db.response.status_code']).toBe('SQLITE_ERROR');
    expect(failed.attributes['error.type']).toBe('SQLITE_ERROR');

    const collected = await h.reader.collect();
    const byName = new Map(collected.resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).map((m) => [m.descriptor.name, m]));
    // CREATE, INSERT, SELECT and the failed SELECT: four round trips, four durations.
    expect(histogramCount(metric(byName, 'db.client.operation.duration'))).toBe(4);
  });
});
