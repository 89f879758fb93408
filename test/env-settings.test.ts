import { describe, expect, test } from 'vitest';
import {
  ConfigurationError,
  DEFAULT_DATABASE_URL,
  DEFAULT_POOL_SIZE,
  DatabaseManager,
  databaseSettingsFromEnv,
  healthCheckConfigFromEnv,
} from '../src/index.js';
import { captureError } from './helpers/capture-error.js';
import { tempDbPath, track } from './helpers/temp-db.js';

describe('healthCheckConfigFromEnv', () => {
  test('an empty environment gives the guide defaults', () => {
    expect(healthCheckConfigFromEnv({}).toJSON()).toEqual(healthCheckConfigFromEnv({ UNRELATED: 'x' }).toJSON());
    const config = healthCheckConfigFromEnv({});
    expect(config.enabled).toBe(true);
    expect(config.timeoutMs).toBe(1000);
    expect(config.intervalMs).toBe(30_000);
    expect(config.maxAgeMs).toBe(3_600_000);
    expect(config.maxUsage).toBe(1000);
  });

  test('reads the five variables in the guide units (seconds) and converts to milliseconds', () => {
    const config = healthCheckConfigFromEnv({
      DB_HEALTH_CHECK_ENABLED: 'false',
      DB_HEALTH_CHECK_TIMEOUT: '2.5',
      DB_HEALTH_CHECK_INTERVAL: '60',
      DB_MAX_CONNECTION_AGE: '7200',
      DB_MAX_CONNECTION_USAGE: '2000',
    });
    expect(config.enabled).toBe(false);
    expect(config.timeoutMs).toBe(2500);
    expect(config.intervalMs).toBe(60_000);
    expect(config.maxAgeMs).toBe(7_200_000);
    expect(config.maxUsage).toBe(2000); // a count, not a duration
    // Not configurable from the environment in the guide: defaults stay.
    expect(config.maxIdleTimeMs).toBe(300_000);
    expect(config.minHealthyConnections).toBe(2);
  });

  test.each([
    ['1', true], ['true', true], ['TRUE', true], [' yes ', true], ['on', true],
    ['0', false], ['false', false], ['No', false], ['off', false],
  ])('DB_HEALTH_CHECK_ENABLED=%j reads as %s', (raw, expected) => {
    expect(healthCheckConfigFromEnv({ DB_HEALTH_CHECK_ENABLED: raw }).enabled).toBe(expected);
  });

  test('empty and blank variables count as unset', () => {
    const config = healthCheckConfigFromEnv({ DB_HEALTH_CHECK_TIMEOUT: '', DB_HEALTH_CHECK_ENABLED: '  ' });
    expect(config.timeoutMs).toBe(1000);
    expect(config.enabled).toBe(true);
  });

  test.each([
    ['DB_HEALTH_CHECK_ENABLED', 'maybe', /expected true or false/],
    ['DB_HEALTH_CHECK_TIMEOUT', 'fast', /expected a number/],
    ['DB_HEALTH_CHECK_TIMEOUT', '0', /above 0/],
    ['DB_HEALTH_CHECK_TIMEOUT', '-1', /above 0/],
    ['DB_HEALTH_CHECK_INTERVAL', 'soon', /expected a number/],
    ['DB_HEALTH_CHECK_INTERVAL', '0', /integer from 1/],
    ['DB_MAX_CONNECTION_AGE', '-10', /above 0/],
    ['DB_MAX_CONNECTION_AGE', '1e999', /expected a number/],
    ['DB_MAX_CONNECTION_USAGE', '1.5', /integer above 0/],
    ['DB_MAX_CONNECTION_USAGE', '0', /integer above 0/],
  ])('%s=%j is refused, naming the variable (not the option) and its raw value', (name, raw, expectation) => {
    const error = captureError(() => healthCheckConfigFromEnv({ [name]: raw })) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.code).toBe('SQLITE_POOL_INVALID_CONFIG');
    expect(error.option).toBe(name);
    expect(error.message).toContain(`Invalid ${name}: ${JSON.stringify(raw)}`);
    expect(error.message).toMatch(expectation);
  });
});

describe('databaseSettingsFromEnv', () => {
  test('defaults are the guide DatabaseSettings', () => {
    const settings = databaseSettingsFromEnv({});
    expect(settings.databaseUrl).toBe('sqlite:///voyager_trader.db');
    expect(DEFAULT_DATABASE_URL).toBe('sqlite:///voyager_trader.db');
    expect(settings.poolSize).toBe(10);
    expect(DEFAULT_POOL_SIZE).toBe(10);
    expect(settings.healthCheckConfig.toJSON()).toEqual(healthCheckConfigFromEnv({}).toJSON());
  });

  test('reads DATABASE_URL, DB_POOL_SIZE and the health variables', () => {
    const settings = databaseSettingsFromEnv({
      DATABASE_URL: ' sqlite:////var/lib/app.db ',
      DB_POOL_SIZE: '4',
      DB_HEALTH_CHECK_INTERVAL: '15',
    });
    expect(settings.databaseUrl).toBe('sqlite:////var/lib/app.db');
    expect(settings.poolSize).toBe(4);
    expect(settings.healthCheckConfig.intervalMs).toBe(15_000);
  });

  test.each(['0', '-2', '2.5', 'ten'])('DB_POOL_SIZE=%j is refused, naming the variable', (raw) => {
    const error = captureError(() => databaseSettingsFromEnv({ DB_POOL_SIZE: raw })) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.option).toBe('DB_POOL_SIZE');
    expect(error.message).toContain(JSON.stringify(raw));
  });

  test('the settings configure a working pool', async () => {
    const file = tempDbPath('env.db');
    const settings = databaseSettingsFromEnv({ DATABASE_URL: `sqlite:///${file}`, DB_POOL_SIZE: '3' });
    expect(file.startsWith('/')).toBe(true); // an absolute path: sqlite:////tmp/...
    const db = track(new DatabaseManager(settings));
    await db.initialize();
    expect(db.options.filename).toBe(file);
    const stats = await db.getConnectionStats();
    expect(stats.maxPoolSize).toBe(3);
    expect(stats.poolSize).toBe(2);
    expect(await db.get('SELECT 41 + 1 AS answer')).toEqual({ answer: 42 });
  });
});
