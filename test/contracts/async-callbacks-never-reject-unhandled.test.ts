import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { newPool, telemetryHarness } from '../telemetry/harness.js';
import { seededFile, turn } from './support.js';

/**
 * README: "A user callback cannot stop the pool". A logger or telemetry hook may be async although
 * its type says `void` (an async transport, a JavaScript caller): the pool does not wait for it,
 * and a promise it returns that rejects must not become an unhandled rejection, which ends the
 * process under Node's default `--unhandled-rejections=throw`.
 */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** An async function that always rejects, as a JavaScript caller passes it where a `void` method is expected. */
function rejecting(reason: string, onCall: () => void = () => {}): () => void {
  const fn: unknown = async () => {
    onCall();
    throw new Error(reason);
  };
  return fn as () => void;
}

describe('async callbacks that reject', () => {
  test('a logger whose methods reject: no unhandled rejection from initialize(), statements, probes or close()', async () => {
    let calls = 0;
    const failing = rejecting('log transport closed', () => calls++);
    const db = newPool({ filename: seededFile(), logger: { debug: failing, info: failing, warn: failing, error: failing }, healthCheckConfig: { cacheDurationMs: 0 } });
    await db.initialize();
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
    await db.monitoring.runCycle();
    await db.close();
    await turn(); // unhandled rejections are reported once the microtask queue has drained
    expect(calls).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
  });

  test('a requestHook and a responseHook that reject: no unhandled rejection, the spans end, each failure is counted', async () => {
    const h = telemetryHarness({ requestHook: rejecting('request hook failed'), responseHook: rejecting('response hook failed') });
    const db = newPool({ filename: seededFile() });
    expect(await db.get('SELECT count(*) AS n FROM users')).toEqual({ n: 3 });
    expect(await db.all('SELECT id FROM users WHERE id = ?', [1])).toEqual([{ id: 1 }]);
    await turn();
    expect(unhandled).toEqual([]);
    expect(h.spansNamed('SELECT users')).toHaveLength(2);
    // Two statements, two hooks each: the rejections reached the pool's counter.
    expect(db.getConnectionStatsSync().lifetime.telemetryFailures).toBe(4);
  });
});
