import fs from 'node:fs';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { AcquireTimeoutError } from '../../src/errors.js';
import { flush, newPool, onCleanup, telemetryHarness, useAsyncContext } from './harness.js';

/** Pool spans: acquire (with its probe and connect children), health checks, monitoring cycles. */

function expectChildOf(child: ReadableSpan, parent: ReadableSpan): void {
  expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
  expect(child.parentSpanContext?.spanId, `${child.name} is a child of ${parent.name}`).toBe(parent.spanContext().spanId);
}

describe('sqlite_pool.acquire', () => {
  it('wraps a wait for a lease, with a borrow-time probe as its child, under the caller’s span', async () => {
    useAsyncContext();
    const h = telemetryHarness();
    // cacheDurationMs 0: every borrow probes first.
    const pool = newPool({ poolSize: 2, healthCheckConfig: { cacheDurationMs: 0, minHealthyConnections: 1 } });
    await pool.initialize();
    h.spans.reset();
    const tracer = h.tracerProvider.getTracer('app');

    const [request, connectionId] = await tracer.startActiveSpan('GET /users', async (span) => {
      await flush();
      const lease = await pool.getConnection();
      lease.release();
      span.end();
      return [span, lease.connectionId] as const;
    });
    const acquire = h.span('sqlite_pool.acquire');
    expect(acquire.kind).toBe(SpanKind.INTERNAL);
    expectChildOf(acquire, request as unknown as ReadableSpan);
    expect(acquire.attributes['db.client.connection.pool.name']).toBe(pool.poolName);
    expect(acquire.attributes['sqlite_pool.connection.id']).toBe(connectionId);
    expect(acquire.attributes['sqlite_pool.acquire.wait_ms']).toBeTypeOf('number');
    expect(Object.keys(acquire.attributes).sort()).toEqual(['db.client.connection.pool.name', 'sqlite_pool.acquire.wait_ms', 'sqlite_pool.connection.id']);
    expect(acquire.status.code).toBe(SpanStatusCode.UNSET);

    const probe = h.span('sqlite_pool.health_check');
    expectChildOf(probe, acquire);
    expect(probe.kind).toBe(SpanKind.INTERNAL);
    expect(probe.attributes).toMatchObject({
      'db.client.connection.pool.name': pool.poolName,
      'sqlite_pool.connection.id': connectionId,
      'sqlite_pool.health_check.trigger': 'borrow',
      'sqlite_pool.health_check.result': 'success',
      'sqlite_pool.connection.previous_status': 'healthy',
      'sqlite_pool.connection.status': 'healthy',
    });
    expect(Object.keys(probe.attributes)).toHaveLength(6);
    expect(probe.events).toEqual([]);
    expect(probe.status.code).toBe(SpanStatusCode.UNSET);
    expect(h.spansNamed('sqlite_pool.connect')).toEqual([]);
  });

  it('has a sqlite_pool.connect child when it opens a connection, and ends only when the lease is handed out', async () => {
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.initialize();
    const first = await pool.getConnection(); // the fast path: an idle, recently probed connection
    h.spans.reset();

    const second = await pool.getConnection(); // none idle: a new connection
    const acquire = h.span('sqlite_pool.acquire');
    const connect = h.span('sqlite_pool.connect');
    expectChildOf(connect, acquire);
    expect(connect.kind).toBe(SpanKind.INTERNAL);
    expect(connect.attributes).toEqual({ 'db.client.connection.pool.name': pool.poolName, 'sqlite_pool.connection.id': second.connectionId });
    expect(connect.status.code).toBe(SpanStatusCode.UNSET);
    // The new connection's first probe belongs to the same acquire.
    const probe = h.span('sqlite_pool.health_check');
    expectChildOf(probe, acquire);
    expect(probe.attributes['sqlite_pool.health_check.trigger']).toBe('connect');
    expect(probe.attributes['sqlite_pool.connection.id']).toBe(second.connectionId);
    expect(acquire.attributes['sqlite_pool.connection.id']).toBe(second.connectionId);

    // A caller that waits: the span stays open until a lease comes back.
    h.spans.reset();
    const third = pool.getConnection();
    await flush();
    expect(h.spansNamed('sqlite_pool.acquire')).toEqual([]);
    first.release();
    const lease = await third;
    const waited = h.span('sqlite_pool.acquire');
    expect(waited.attributes['sqlite_pool.connection.id']).toBe(first.connectionId);
    expect(waited.attributes['sqlite_pool.acquire.wait_ms']).toBeGreaterThan(0);
    expect(h.spansNamed('sqlite_pool.connect')).toEqual([]);
    lease.release();
    second.release();
  });

  it('ends with an error when the wait times out', async () => {
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    const held = await pool.getConnection();
    h.spans.reset();
    const error = await pool.getConnection({ timeoutMs: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    const acquire = h.span('sqlite_pool.acquire');
    expect(acquire.status.code).toBe(SpanStatusCode.ERROR);
    expect(acquire.status.message).toBe((error as Error).message);
    expect(acquire.attributes['error.type']).toBe('SQLITE_POOL_ACQUIRE_TIMEOUT');
    // not a status the database returned
    expect(acquire.attributes['db.response.status_code']).toBeUndefined();
    expect(acquire.attributes['sqlite_pool.connection.id']).toBeUndefined();
    expect(acquire.events.map((e) => e.name)).toEqual(['exception']);
    held.release();
  });

  it('records a failed connection creation on the sqlite_pool.connect span', async () => {
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1 } });
    const held = await pool.getConnection();
    // Make the next open fail: a directory now sits where the database file was.
    fs.rmSync(pool.namespace);
    fs.mkdirSync(pool.namespace);
    h.spans.reset();
    await expect(pool.getConnection({ timeoutMs: 50 })).rejects.toBeInstanceOf(AcquireTimeoutError);
    const connect = h.spansNamed('sqlite_pool.connect')[0]!; // the first attempt (it backs off and tries again)
    const acquire = h.span('sqlite_pool.acquire');
    expectChildOf(connect, acquire);
    expect(connect.status.code).toBe(SpanStatusCode.ERROR);
    expect(connect.attributes['error.type']).toBe('SQLITE_CANTOPEN');
    expect(connect.attributes['db.response.status_code']).toBe('SQLITE_CANTOPEN');
    expect(connect.attributes['sqlite_pool.connection.id']).toBeUndefined();
    held.release();
  });
});

describe('sqlite_pool.health_check and sqlite_pool.health_monitor.cycle', () => {
  it('puts the probes of one monitoring cycle in one trace under the cycle span, even inside a caller’s span', async () => {
    useAsyncContext();
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 3, healthCheckConfig: { minHealthyConnections: 3 } });
    await pool.initialize();
    h.spans.reset();

    const result = await h.tracerProvider.getTracer('app').startActiveSpan('unrelated', async (span) => {
      try {
        return await pool.healthManager.runCycle();
      } finally {
        span.end();
      }
    });
    expect(result).toEqual({ retired: 0, probed: 3, failed: 0 });
    const cycle = h.span('sqlite_pool.health_monitor.cycle');
    expect(cycle.kind).toBe(SpanKind.INTERNAL);
    expect(cycle.parentSpanContext).toBeUndefined(); // its own trace, not the caller's
    expect(cycle.spanContext().traceId).not.toBe(h.span('unrelated').spanContext().traceId);
    expect(cycle.attributes).toEqual({
      'db.client.connection.pool.name': pool.poolName,
      'sqlite_pool.health_monitor.probed': 3,
      'sqlite_pool.health_monitor.failed': 0,
    });
    const probes = h.spansNamed('sqlite_pool.health_check');
    expect(probes).toHaveLength(3);
    for (const probe of probes) {
      expectChildOf(probe, cycle);
      expect(probe.attributes['sqlite_pool.health_check.trigger']).toBe('monitor');
      expect(probe.attributes['sqlite_pool.health_check.result']).toBe('success');
    }
    expect(new Set(probes.map((p) => p.attributes['sqlite_pool.connection.id'])).size).toBe(3);
  });

  it('records a failed probe with its status change, and keeps the replacement in the cycle’s trace', async () => {
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    await pool.initialize();
    const [connection] = [...pool.connections()];
    fs.rmSync(pool.namespace); // the file behind the connection is gone: the probe must notice
    h.spans.reset();

    const result = await pool.healthManager.runCycle();
    expect(result).toMatchObject({ probed: 1, failed: 1 });
    const cycle = h.span('sqlite_pool.health_monitor.cycle');
    expect(cycle.attributes['sqlite_pool.health_monitor.failed']).toBe(1);
    const failed = h.spansNamed('sqlite_pool.health_check').find((s) => s.attributes['sqlite_pool.health_check.trigger'] === 'monitor');
    expect(failed).toBeDefined();
    expectChildOf(failed!, cycle);
    expect(failed!.attributes).toMatchObject({
      'sqlite_pool.connection.id': connection!.connectionId,
      'sqlite_pool.health_check.result': 'failure',
      'error.type': 'SQLITE_POOL_FILE_MISSING',
      'sqlite_pool.connection.previous_status': 'healthy',
      'sqlite_pool.connection.status': 'unhealthy',
    });
    expect(failed!.attributes['db.response.status_code']).toBeUndefined();
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    const change = failed!.events.find((e) => e.name === 'status_change');
    expect(change?.attributes).toEqual({ from: 'healthy', to: 'unhealthy' });
    expect(failed!.events.map((e) => e.name)).toContain('exception');

    // The cycle tried to replace the connection (and failed: replacements need the file the pool
    // opened, never a new empty one): that work is part of the cycle's trace too.
    const connect = h.span('sqlite_pool.connect');
    expectChildOf(connect, cycle);
    expect(connect.status.code).toBe(SpanStatusCode.ERROR);
    expect(connect.attributes['error.type']).toBe('SQLITE_CANTOPEN');
    const traces = new Set(h.spans.getFinishedSpans().map((s) => s.spanContext().traceId));
    expect(traces.size).toBe(1);
  });

  it('gives a probe asked for by user code (validateHealth) its own span with trigger "manual"', async () => {
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } });
    await using lease = await pool.getConnection();
    h.spans.reset();
    expect(await lease.healthyConnection.validateHealth({ force: true })).toBe(true);
    const probe = h.span('sqlite_pool.health_check');
    expect(probe.attributes['sqlite_pool.health_check.trigger']).toBe('manual');
    expect(probe.attributes['sqlite_pool.connection.id']).toBe(lease.connectionId);
    // a cached result runs no probe and makes no span
    expect(await lease.healthyConnection.validateHealth()).toBe(true);
    expect(h.spansNamed('sqlite_pool.health_check')).toHaveLength(1);
  });

  it('times connect and probe spans inside their parent, even when the wall clock drifted from the monotonic one', async () => {
    // The SDK times its spans with Date.now(); ours come from performance.now(). Move the wall
    // clock an hour away from the monotonic clock, as NTP may do to a long-running process.
    const realNow = Date.now.bind(Date);
    const drifted = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_600_000);
    onCleanup(() => drifted.mockRestore());
    const h = telemetryHarness();
    const pool = newPool({ poolSize: 2, healthCheckConfig: { minHealthyConnections: 1 } });
    const held = await pool.getConnection();
    h.spans.reset();
    const lease = await pool.getConnection(); // opens a connection: acquire > connect, probe
    const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;
    const acquire = h.span('sqlite_pool.acquire');
    for (const child of [h.span('sqlite_pool.connect'), h.span('sqlite_pool.health_check')]) {
      expectChildOf(child, acquire);
      expect(ms(child.startTime), `${child.name} starts inside its parent`).toBeGreaterThanOrEqual(ms(acquire.startTime) - 1);
      expect(ms(child.endTime), `${child.name} ends inside its parent`).toBeLessThanOrEqual(ms(acquire.endTime) + 1);
      expect(ms(child.endTime)).toBeGreaterThanOrEqual(ms(child.startTime));
    }
    lease.release();
    held.release();
  });
});
