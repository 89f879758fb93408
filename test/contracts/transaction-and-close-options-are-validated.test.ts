import { describe, expect, test } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { MODES, pool } from './support.js';

/**
 * README, Migrating: "Per-call options ... are validated: NaN, -1 or an unknown key reject with
 * ConfigurationError". That holds for `lease.transaction(fn, options)` (its options are those of
 * its BEGIN, COMMIT and ROLLBACK: a bad `timeoutMs` would otherwise be a 0 ms query timeout that
 * kills a worker connection) and for `close(options)` (a misspelled `timeout` would wait the
 * default instead). They reject, never throw synchronously, and nothing starts.
 */
const BAD_QUERY_OPTIONS = [
  [{ timeoutMs: -1 }, 'timeoutMs', -1],
  [{ timeoutMs: 'abc' }, 'timeoutMs', 'abc'],
  [{ timeout: 5 }, 'timeout', 5],
  [{ safeIntegers: 'yes' }, 'safeIntegers', 'yes'],
] as const;

describe.each(MODES)('%s mode', (mode) => {
  test.each(BAD_QUERY_OPTIONS)('lease.transaction(fn, %o) rejects with ConfigurationError naming %s', async (options, option, value) => {
    const db = pool({ mode, poolSize: 1 });
    await using lease = await db.getConnection();
    let ran = false;
    const error = await captureRejection(
      lease.transaction(() => {
        ran = true;
      }, options as never),
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option, value });
    expect(ran).toBe(false);
    expect(lease.inTransaction).toBe(false);
    expect(await lease.get('SELECT 1 AS one')).toEqual({ one: 1 });
    expect(db.getConnectionStatsSync().lifetime.closed.error).toBe(0);
  });
});

test('db.transaction(fn, options) inside a transaction (it joins) still refuses unknown options', async () => {
  const db = pool({ poolSize: 1 });
  const error = await db.transaction(() => captureRejection(db.transaction(() => 1, { timeout: 5 } as never)));
  expect(error).toMatchObject({ option: 'timeout', value: 5 });
});

test.each([
  [{ timeoutMs: 'abc' }, 'timeoutMs', 'abc'],
  [{ timeoutMs: -1 }, 'timeoutMs', -1],
  [{ timeoutMs: Number.NaN }, 'timeoutMs', Number.NaN],
  [{ timeout: 10 }, 'timeout', 10],
  [null, 'options', null],
])('close(%o) rejects with ConfigurationError naming %s, and the pool stays open', async (options, option, value) => {
  const db = pool();
  await db.initialize();
  let outcome: unknown;
  try {
    outcome = db.close(options as never);
  } catch (thrown) {
    outcome = thrown;
  }
  expect(outcome).toBeInstanceOf(Promise);
  const error = await captureRejection(outcome as Promise<unknown>);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect(error).toMatchObject({ option, value });
  expect(db.state).toBe('open');
  expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
  await db.close({ timeoutMs: 0 });
  expect(db.state).toBe('closed');
});
