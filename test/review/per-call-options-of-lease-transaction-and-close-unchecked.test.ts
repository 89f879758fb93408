import { describe, expect, test } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { MODES, pool } from '../contracts/support.js';

/**
 * Review finding: two per-call options objects escape validation.
 * - `lease.transaction(fn, options)`: passed straight to BEGIN's runStatement (lease.ts
 *   `#transaction`), never through `checkQueryOptions`. `{ timeoutMs: -1 }` or `'abc'` is a
 *   0 ms query timeout in worker mode: BEGIN kills the connection's process (QueryTimeoutError,
 *   "ran longer than -1 ms", one connection closed with reason `error`); unknown keys pass.
 * - `close(options)`: `options.timeoutMs ?? closeTimeoutMs` with no check: `'abc'`, `-1` and a
 *   misspelled `timeout` are accepted (the typo silently waits the default 5 s), `close(null)`
 *   throws a TypeError.
 *
 * README, Migrating: "Per-call options ... are validated: NaN, -1 or an unknown key reject with
 * ConfigurationError"; docs/api.md: "Every option is validated".
 */
describe.each(MODES)('%s mode', (mode) => {
  test.each([{ timeoutMs: -1 }, { timeoutMs: 'abc' }, { timeout: 5 }, { safeIntegers: 'yes' }])('lease.transaction(fn, %o) rejects with ConfigurationError', async (options) => {
    const db = pool({ mode, poolSize: 1 });
    await using lease = await db.getConnection();
    const error = await captureRejection(lease.transaction(async () => 1, options as never));
    expect(error).toBeInstanceOf(ConfigurationError); // actual: resolves 1, or (worker) QueryTimeoutError
    expect(db.getConnectionStatsSync().lifetime.closed.error).toBe(0);
  });
});

test.each([{ timeoutMs: 'abc' }, { timeoutMs: -1 }, { timeoutMs: Number.NaN }, { timeout: 10 }])('close(%o) rejects with ConfigurationError', async (options) => {
  const db = pool();
  await db.initialize();
  const error = await captureRejection(db.close(options as never)); // actual: resolves
  expect(error).toBeInstanceOf(ConfigurationError);
});

test('close(null) rejects with ConfigurationError, not a TypeError thrown synchronously', () => {
  const db = pool();
  let outcome: unknown;
  try {
    outcome = db.close(null as never);
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(Promise); // actual: TypeError: Cannot read properties of null
});
