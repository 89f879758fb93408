import { ConfigurationError } from '../errors.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkPlainObject } from './option-checks.js';

/** Options of one `getConnection()` call (and of `withLease()`, `transaction()`). */
export interface AcquireOptions {
  /**
   * How long to wait for a connection; 0 fails at once when none is ready, `Infinity` waits as
   * long as it takes.
   * @default the pool's `acquireTimeoutMs`
   */
  timeoutMs?: number;
  /** Gives up waiting when aborted (the lease is never handed out). @default none */
  signal?: AbortSignal;
}

/** Options of one statement run through the async API (lease methods and the pool's shortcuts). */
export interface QueryOptions {
  /**
   * Worker mode: a statement still running after this many milliseconds is stopped (its worker is
   * terminated and replaced) and rejects with `QueryTimeoutError`. The in-thread mode cannot
   * interrupt a running statement and ignores it.
   * @default the pool's `queryTimeoutMs`
   */
  timeoutMs?: number;
  /** Return integers as BigInt (better-sqlite3's `safeIntegers`), for this call only. @default false */
  safeIntegers?: boolean;
  /** `iterate()`: rows fetched per round trip in worker mode. @default 100 */
  batchSize?: number;
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * How long to wait for leases to come back before ending them; 0 ends them at once.
   * @default the pool's `closeTimeoutMs`
   */
  timeoutMs?: number;
}

const ACQUIRE_KEYS = ['timeoutMs', 'signal'] as const;
const QUERY_KEYS = ['timeoutMs', 'safeIntegers', 'batchSize'] as const;
const CLOSE_KEYS = ['timeoutMs'] as const;

/** Validates `getConnection()` options in the pool's `ConfigurationError` style. */
export function checkAcquireOptions(options: unknown): AcquireOptions {
  const given = checkPlainObject('options', options);
  checkKnownKeys('', given, ACQUIRE_KEYS);
  if (given.timeoutMs !== undefined) checkNumber('timeoutMs', given.timeoutMs, { min: 0, allowInfinity: true });
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal)) {
    throw new ConfigurationError('signal', given.signal, 'expected an AbortSignal');
  }
  return given;
}

/** Validates the options of one statement. */
export function checkQueryOptions(options: unknown): QueryOptions {
  const given = checkPlainObject('options', options);
  checkKnownKeys('', given, QUERY_KEYS);
  if (given.timeoutMs !== undefined) checkNumber('timeoutMs', given.timeoutMs, { min: 0, exclusiveMin: true, allowInfinity: true });
  if (given.safeIntegers !== undefined) checkBoolean('safeIntegers', given.safeIntegers);
  if (given.batchSize !== undefined) checkNumber('batchSize', given.batchSize, { min: 1, integer: true });
  return given;
}

/** Validates `close()` options: `timeoutMs` as the pool's `closeTimeoutMs` takes it. */
export function checkCloseOptions(options: unknown): CloseOptions {
  const given = checkPlainObject('options', options);
  checkKnownKeys('', given, CLOSE_KEYS);
  if (given.timeoutMs !== undefined) checkNumber('timeoutMs', given.timeoutMs, { min: 0 });
  return given;
}
