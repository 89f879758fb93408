import Database from 'better-sqlite3';
import { ConfigurationError, HealthCheckError } from '../errors.js';
import type { SerializedError } from './protocol.js';

/** An error, flattened to cross into the pool's process. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof ConfigurationError) {
    return { name: error.name, message: error.message, code: error.code, fatal: undefined, option: error.option, value: error.value, expectation: error.expectation };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, code: typeof code === 'string' ? code : undefined, fatal: error instanceof HealthCheckError ? error.fatal : undefined };
  }
  return { name: 'Error', message: String(error), code: undefined, fatal: undefined };
}

/** Rebuilds the error on the pool's side: a `SqliteError` keeps its code, a probe failure its verdict. */
export function deserializeError(error: SerializedError): Error {
  if (error.option !== undefined) return new ConfigurationError(error.option, error.value, error.expectation ?? error.message);
  if (error.fatal !== undefined) return new HealthCheckError(error.code ?? 'SQLITE_POOL_PROBE_FAILED', error.message, error.fatal);
  if (error.code?.startsWith('SQLITE_') === true) return new Database.SqliteError(error.message, error.code);
  if (error.name === 'RangeError') return new RangeError(error.message);
  if (error.name === 'TypeError') return new TypeError(error.message);
  return new Error(error.message);
}
