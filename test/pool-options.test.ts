import { describe, expect, test } from 'vitest';
import { ConfigurationError, DatabaseManager, DEFAULT_PRAGMAS, HealthCheckConfig } from '../src/index.js';
import { resolvePoolOptions } from '../src/config/pool-options.js';
import { captureError } from './helpers/capture-error.js';
import { tempDbPath } from './helpers/temp-db.js';

const FILE = '/tmp/never-opened-by-these-tests.db';

/** Constructing the manager validates everything (nothing is opened). */
function configError(options: unknown): ConfigurationError {
  const error = captureError(() => new DatabaseManager(options as never));
  expect(error).toBeInstanceOf(ConfigurationError);
  const configError = error as ConfigurationError;
  expect(configError.code).toBe('SQLITE_POOL_INVALID_CONFIG');
  expect(configError.name).toBe('ConfigurationError');
  return configError;
}

/** How the message shows a value (strings quoted, functions named "a function"). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

describe('DatabaseManager options: defaults', () => {
  test('every option has its documented default', () => {
    const resolved = resolvePoolOptions({ filename: FILE });
    expect(resolved).toMatchObject({
      filename: FILE,
      poolSize: 10,
      acquireTimeoutMs: 30_000,
      leakDetectionThresholdMs: 0,
      closeTimeoutMs: 5000,
      busyTimeoutMs: 5000,
      pragmas: DEFAULT_PRAGMAS,
      readonly: false,
      fileMustExist: false,
      onConnect: undefined,
      statementCacheSize: 100,
      poolName: undefined,
    });
    expect(resolved.healthCheckConfig).toBeInstanceOf(HealthCheckConfig);
    expect(resolved.healthCheckConfig.toJSON()).toEqual(new HealthCheckConfig().toJSON());
    // Silent by default: four no-op methods.
    for (const level of ['debug', 'info', 'warn', 'error'] as const) expect(resolved.logger[level]('x')).toBeUndefined();
  });

  test('a HealthCheckConfig instance is used as is (run-time changes reach the pool)', () => {
    const config = new HealthCheckConfig({ minHealthyConnections: 1 });
    const db = new DatabaseManager({ filename: FILE, healthCheckConfig: config });
    expect(db.healthCheckConfig).toBe(config);
    expect(db.healthManager.config).toBe(config);
  });

  test("the guide's default minimum (2) yields to a smaller pool; an explicit one does not", () => {
    expect(resolvePoolOptions({ filename: FILE, poolSize: 1 }).healthCheckConfig.minHealthyConnections).toBe(1);
    expect(resolvePoolOptions({ filename: ':memory:', poolSize: 1, healthCheckConfig: { timeoutMs: 500 } }).healthCheckConfig.minHealthyConnections).toBe(1);
    expect(resolvePoolOptions({ filename: FILE, poolSize: 3 }).healthCheckConfig.minHealthyConnections).toBe(2);
    expect(() => resolvePoolOptions({ filename: FILE, poolSize: 1, healthCheckConfig: { minHealthyConnections: 2 } })).toThrow(/minHealthyConnections: 2; expected at most poolSize \(1\)/);
  });

  test('acquireTimeoutMs accepts Infinity (wait for ever)', () => {
    expect(resolvePoolOptions({ filename: FILE, acquireTimeoutMs: Infinity }).acquireTimeoutMs).toBe(Infinity);
  });
});

describe('DatabaseManager options: bad input, one row per option and fault', () => {
  // [what, options, option named in the error, value named in the error]
  const rows: [string, Record<string, unknown>, string, unknown][] = [
    // shape
    ['no database at all', {}, 'databaseUrl', undefined],
    ['both databaseUrl and filename', { databaseUrl: 'sqlite:///a.db', filename: 'b.db' }, 'filename', 'b.db'],
    // databaseUrl
    ['databaseUrl of another scheme', { databaseUrl: 'postgres://db/app' }, 'databaseUrl', 'postgres://db/app'],
    ['databaseUrl with a host', { databaseUrl: 'sqlite://host/app.db' }, 'databaseUrl', 'sqlite://host/app.db'],
    ['databaseUrl unparsable escape', { databaseUrl: 'sqlite:///50%off.db' }, 'databaseUrl', 'sqlite:///50%off.db'],
    ['databaseUrl wrong type', { databaseUrl: 42 }, 'databaseUrl', 42],
    ['databaseUrl empty', { databaseUrl: '' }, 'databaseUrl', ''],
    // filename
    ['filename wrong type', { filename: 7 }, 'filename', 7],
    ['filename empty', { filename: ' ' }, 'filename', ' '],
    // poolSize
    ['poolSize wrong type', { filename: FILE, poolSize: '10' }, 'poolSize', '10'],
    ['poolSize zero', { filename: FILE, poolSize: 0 }, 'poolSize', 0],
    ['poolSize negative', { filename: FILE, poolSize: -3 }, 'poolSize', -3],
    ['poolSize fractional', { filename: FILE, poolSize: 2.5 }, 'poolSize', 2.5],
    ['poolSize Infinity', { filename: FILE, poolSize: Infinity }, 'poolSize', Infinity],
    ['poolSize NaN', { filename: FILE, poolSize: NaN }, 'poolSize', NaN],
    // healthCheckConfig
    ['healthCheckConfig wrong type', { filename: FILE, healthCheckConfig: 'fast' }, 'healthCheckConfig', 'fast'],
    ['healthCheckConfig null', { filename: FILE, healthCheckConfig: null }, 'healthCheckConfig', null],
    ['healthCheckConfig.timeoutMs out of range', { filename: FILE, healthCheckConfig: { timeoutMs: 0 } }, 'healthCheckConfig.timeoutMs', 0],
    ['healthCheckConfig.query wrong type', { filename: FILE, healthCheckConfig: { query: 1 } }, 'healthCheckConfig.query', 1],
    ['healthCheckConfig misspelled key', { filename: FILE, healthCheckConfig: { max_usage: 10 } }, 'healthCheckConfig.max_usage', 10],
    ['minHealthyConnections above poolSize', { filename: FILE, poolSize: 3, healthCheckConfig: { minHealthyConnections: 4 } }, 'healthCheckConfig.minHealthyConnections', 4],
    ['an explicit minHealthyConnections above poolSize 1', { filename: FILE, poolSize: 1, healthCheckConfig: { minHealthyConnections: 2 } }, 'healthCheckConfig.minHealthyConnections', 2],
    // :memory:
    [':memory: with poolSize > 1', { filename: ':memory:', poolSize: 2 }, 'poolSize', 2],
    [':memory: URL with the default poolSize', { databaseUrl: 'sqlite:///:memory:' }, 'poolSize', 10],
    // acquireTimeoutMs
    ['acquireTimeoutMs wrong type', { filename: FILE, acquireTimeoutMs: '5s' }, 'acquireTimeoutMs', '5s'],
    ['acquireTimeoutMs negative', { filename: FILE, acquireTimeoutMs: -1 }, 'acquireTimeoutMs', -1],
    ['acquireTimeoutMs NaN', { filename: FILE, acquireTimeoutMs: NaN }, 'acquireTimeoutMs', NaN],
    // leakDetectionThresholdMs
    ['leakDetectionThresholdMs wrong type', { filename: FILE, leakDetectionThresholdMs: true }, 'leakDetectionThresholdMs', true],
    ['leakDetectionThresholdMs negative', { filename: FILE, leakDetectionThresholdMs: -100 }, 'leakDetectionThresholdMs', -100],
    ['leakDetectionThresholdMs Infinity', { filename: FILE, leakDetectionThresholdMs: Infinity }, 'leakDetectionThresholdMs', Infinity],
    // closeTimeoutMs
    ['closeTimeoutMs wrong type', { filename: FILE, closeTimeoutMs: '1000' }, 'closeTimeoutMs', '1000'],
    ['closeTimeoutMs negative', { filename: FILE, closeTimeoutMs: -1 }, 'closeTimeoutMs', -1],
    // busyTimeoutMs
    ['busyTimeoutMs wrong type', { filename: FILE, busyTimeoutMs: '5000' }, 'busyTimeoutMs', '5000'],
    ['busyTimeoutMs negative', { filename: FILE, busyTimeoutMs: -1 }, 'busyTimeoutMs', -1],
    ['busyTimeoutMs fractional', { filename: FILE, busyTimeoutMs: 1.5 }, 'busyTimeoutMs', 1.5],
    ['busyTimeoutMs above what SQLite takes', { filename: FILE, busyTimeoutMs: 2 ** 31 }, 'busyTimeoutMs', 2 ** 31],
    // pragmas
    ['pragmas wrong type', { filename: FILE, pragmas: 'WAL' }, 'pragmas', 'WAL'],
    ['pragmas injected name', { filename: FILE, pragmas: { 'journal_mode; DROP TABLE x': 'WAL' } }, 'pragmas.journal_mode; DROP TABLE x', 'WAL'],
    ['pragmas injected value', { filename: FILE, pragmas: { journal_mode: 'WAL; DROP TABLE x' } }, 'pragmas.journal_mode', 'WAL; DROP TABLE x'],
    ['pragmas object value', { filename: FILE, pragmas: { cache_size: { n: 1 } } }, 'pragmas.cache_size', { n: 1 }],
    // readonly, fileMustExist
    ['readonly wrong type', { filename: FILE, readonly: 'yes' }, 'readonly', 'yes'],
    ['fileMustExist wrong type', { filename: FILE, fileMustExist: 1 }, 'fileMustExist', 1],
    // onConnect
    ['onConnect wrong type', { filename: FILE, onConnect: 42 }, 'onConnect', 42],
    ['onConnect empty module specifier', { filename: FILE, onConnect: ' ' }, 'onConnect', ' '],
    // statementCacheSize
    ['statementCacheSize negative', { filename: FILE, statementCacheSize: -1 }, 'statementCacheSize', -1],
    ['statementCacheSize fractional', { filename: FILE, statementCacheSize: 0.5 }, 'statementCacheSize', 0.5],
    // poolName
    ['poolName empty', { filename: FILE, poolName: '' }, 'poolName', ''],
    ['poolName wrong type', { filename: FILE, poolName: 3 }, 'poolName', 3],
    // logger
    ['logger wrong type', { filename: FILE, logger: 'console' }, 'logger', 'console'],
    ['logger missing a method', { filename: FILE, logger: { debug() {}, info() {}, warn() {} } }, 'logger', undefined],
    // unknown and misspelled keys
    ['misspelled poolSize', { filename: FILE, poolSzie: 5 }, 'poolSzie', 5],
    ['guide-style pool_size', { filename: FILE, pool_size: 5 }, 'pool_size', 5],
    ['guide-style database_url', { database_url: 'sqlite:///a.db' }, 'database_url', 'sqlite:///a.db'],
    ['guide-style health_check_config', { filename: FILE, health_check_config: {} }, 'health_check_config', {}],
    ['unknown key', { filename: FILE, colour: 'blue' }, 'colour', 'blue'],
  ];

  test.each(rows)('%s', (_what, options, option, value) => {
    const error = configError(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`Invalid ${option}:`);
    if (value !== undefined || option === 'databaseUrl') {
      expect(error.message).toContain(`Invalid ${option}: ${shown(value)};`);
    }
    if (value !== undefined) expect(error.value).toEqual(value);
  });

  test.each([
    [{ poolSzie: 5 }, 'poolSize'],
    [{ pool_size: 5 }, 'poolSize'],
    [{ acquireTimeout: 5 }, 'acquireTimeoutMs'],
    [{ health_check_config: {} }, 'healthCheckConfig'],
    [{ leakDetectionThreshold: 5 }, 'leakDetectionThresholdMs'],
  ])('a misspelled key %j gets the suggestion %s', (extra, suggestion) => {
    expect(configError({ filename: FILE, ...extra }).message).toContain(`did you mean ${suggestion}?`);
  });

  test('the whole options object must be an object', () => {
    for (const value of [undefined, null, 'sqlite:///a.db', 5]) {
      expect(configError(value).option).toBe('options');
    }
  });

  test('the logger error says which method is missing', () => {
    expect(configError({ filename: FILE, logger: { debug() {}, info() {}, warn() {} } }).message).toContain('(no error)');
  });

  test('console and class-based loggers are accepted', () => {
    expect(() => new DatabaseManager({ filename: FILE, logger: console })).not.toThrow();
    class MyLogger {
      debug(): void {}
      info(): void {}
      warn(): void {}
      error(): void {}
    }
    expect(() => new DatabaseManager({ filename: FILE, logger: new MyLogger() })).not.toThrow();
  });

  test('nothing is opened or created by a refused configuration', () => {
    const file = tempDbPath();
    configError({ filename: file, poolSize: 0 });
    configError({ filename: file, healthCheckConfig: { batchSize: 0 } });
    return import('node:fs').then((fs) => expect(fs.existsSync(file)).toBe(false));
  });
});
