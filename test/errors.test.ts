import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  ConfigurationError,
  ConnectionCreateError,
  HealthCheckError,
  LeaseReleasedError,
  PoolClosedError,
  SqlitePoolError,
  errorType,
  isConnectionFatal,
} from '../src/index.js';
import { sqliteCode } from '../src/sqlite-errors.js';
import { tempDbPath, trackDb } from './helpers/temp-db.js';

const cause = new Error('underlying');

describe('every error class has name, code and cause', () => {
  test.each([
    ['ConfigurationError', new ConfigurationError('poolSize', 0, 'expected an integer from 1', { cause }), 'SQLITE_POOL_INVALID_CONFIG', cause],
    ['AcquireTimeoutError', new AcquireTimeoutError(100, { used: 1, idle: 0, waiting: 2, max: 1 }, cause), 'SQLITE_POOL_ACQUIRE_TIMEOUT', cause],
    ['AcquireAbortedError', new AcquireAbortedError(cause), 'SQLITE_POOL_ACQUIRE_ABORTED', cause],
    ['PoolClosedError', new PoolClosedError(), 'SQLITE_POOL_CLOSED', undefined],
    ['ConnectionCreateError', new ConnectionCreateError('app.db', cause), 'SQLITE_POOL_CONNECT_FAILED', cause],
    ['LeaseReleasedError', new LeaseReleasedError('conn_1'), 'SQLITE_POOL_LEASE_RELEASED', undefined],
    ['HealthCheckError', new HealthCheckError('SQLITE_POOL_FILE_MISSING', 'gone', true, { cause }), 'SQLITE_POOL_FILE_MISSING', cause],
  ] as const)('%s', (name, error, code, expectedCause) => {
    expect(error).toBeInstanceOf(SqlitePoolError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.cause).toBe(expectedCause);
    expect(error.stack).toContain(name);
    expect(errorType(error)).toBe(code);
  });

  test('messages say what happened', () => {
    expect(new ConfigurationError('healthCheckConfig.timeoutMs', -1, 'expected a number above 0').message).toBe(
      'Invalid healthCheckConfig.timeoutMs: -1; expected a number above 0',
    );
    expect(new ConfigurationError('pragmas', { a: 1 }, 'x').message).toBe('Invalid pragmas: {"a":1}; x');
    expect(new ConfigurationError('onConnect', () => 1, 'x').message).toBe('Invalid onConnect: a function; x');
    expect(new ConfigurationError('n', 5n, 'x').message).toBe('Invalid n: 5n; x');
    expect(new ConnectionCreateError('app.db', cause).message).toBe('Could not open a connection to app.db: underlying');
    const timeout = new AcquireTimeoutError(250, { used: 3, idle: 1, waiting: 4, max: 4 }, undefined);
    expect(timeout.message).toBe('Timed out after 250 ms waiting for a connection (used 3, idle 1, waiting 4, max 4)');
    expect(timeout.cause).toBeUndefined();
  });
});

describe('classification (DESIGN.md 1.5)', () => {
  test.each([
    'SQLITE_CORRUPT',
    'SQLITE_CORRUPT_INDEX',
    'SQLITE_NOTADB',
    'SQLITE_CANTOPEN',
    'SQLITE_READONLY_DBMOVED',
    'SQLITE_IOERR',
    'SQLITE_IOERR_SHORT_READ',
    'SQLITE_IOERR_FSYNC',
  ])('%s is connection-fatal', (code) => {
    const error = new Database.SqliteError('boom', code);
    expect(isConnectionFatal(error)).toBe(true);
    expect(sqliteCode(error)).toBe(code);
    expect(errorType(error)).toBe(code);
  });

  test.each(['SQLITE_ERROR', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_READONLY', 'SQLITE_MISMATCH', 'SQLITE_RANGE'])(
    '%s is the caller error: the connection stays',
    (code) => {
      expect(isConnectionFatal(new Database.SqliteError('boom', code))).toBe(false);
    },
  );

  test('real errors from better-sqlite3: syntax is not fatal, a closed handle is', () => {
    const db = trackDb(new Database(tempDbPath()));
    let syntax: unknown;
    try {
      db.prepare('SELEC 1');
    } catch (error) {
      syntax = error;
    }
    expect(syntax).toBeInstanceOf(Database.SqliteError);
    expect(isConnectionFatal(syntax)).toBe(false);
    const statement = db.prepare('SELECT 1');
    db.close();
    let closed: unknown;
    try {
      statement.get();
    } catch (error) {
      closed = error;
    }
    expect(closed).toBeInstanceOf(TypeError);
    expect(isConnectionFatal(closed)).toBe(true);
    expect(errorType(closed)).toBe('TypeError');
  });

  test('health-check errors carry their own verdict; other values are not fatal', () => {
    expect(isConnectionFatal(new HealthCheckError('SQLITE_POOL_PROBE_TIMEOUT', 'slow', false))).toBe(false);
    expect(isConnectionFatal(new HealthCheckError('SQLITE_POOL_FILE_REPLACED', 'replaced', true))).toBe(true);
    expect(isConnectionFatal(new TypeError('something else'))).toBe(false);
    expect(isConnectionFatal('SQLITE_CORRUPT')).toBe(false);
    expect(isConnectionFatal(undefined)).toBe(false);
    expect(errorType('oops')).toBe('_OTHER');
    expect(errorType(new RangeError('x'))).toBe('RangeError');
    expect(sqliteCode({ code: 'ENOENT' })).toBeUndefined();
  });
});
