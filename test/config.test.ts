import { describe, expect, test } from 'vitest';
import { ConfigurationError, HEALTH_CHECK_DEFAULTS, HealthCheckConfig } from '../src/index.js';
import { captureError } from './helpers/capture-error.js';

describe('HealthCheckConfig defaults', () => {
  test('are the guide values, durations converted from seconds to milliseconds', () => {
    const config = new HealthCheckConfig();
    expect(config.toJSON()).toEqual({
      enabled: true,
      timeoutMs: 1000, // timeout: float = 1.0
      query: 'SELECT 1',
      intervalMs: 30_000, // interval: int = 30
      maxAgeMs: 3_600_000, // max_age: int = 3600
      maxUsage: 1000,
      maxIdleTimeMs: 300_000, // max_idle_time: int = 300
      maxConsecutiveFailures: 3,
      cacheDurationMs: 5000, // health_check_cache_duration: float = 5.0
      minHealthyConnections: 2,
      batchSize: 5, // health_check_batch_size: int = 5
    });
    expect(HEALTH_CHECK_DEFAULTS).toEqual(config.toJSON());
    expect(Object.isFrozen(HEALTH_CHECK_DEFAULTS)).toBe(true);
  });

  test('given options replace only their own defaults', () => {
    const config = new HealthCheckConfig({ timeoutMs: 2000, maxAgeMs: 7_200_000, intervalMs: 60_000 });
    expect(config.timeoutMs).toBe(2000);
    expect(config.maxAgeMs).toBe(7_200_000);
    expect(config.intervalMs).toBe(60_000);
    expect(config.maxUsage).toBe(1000);
    expect(config.query).toBe('SELECT 1');
  });

  test('undefined values keep the default; Infinity switches the limits off', () => {
    const config = new HealthCheckConfig({ timeoutMs: undefined, maxAgeMs: Infinity, maxUsage: Infinity, maxIdleTimeMs: Infinity });
    expect(config.timeoutMs).toBe(1000);
    expect(config.maxAgeMs).toBe(Infinity);
    expect(config.maxUsage).toBe(Infinity);
    expect(config.maxIdleTimeMs).toBe(Infinity);
  });

  test('toJSON is a copy', () => {
    const config = new HealthCheckConfig();
    const copy = config.toJSON();
    copy.timeoutMs = 1;
    expect(config.timeoutMs).toBe(1000);
  });

  test('from() keeps a config instance and builds one from options or nothing', () => {
    const config = new HealthCheckConfig({ batchSize: 7 });
    expect(HealthCheckConfig.from(config)).toBe(config);
    expect(HealthCheckConfig.from({ batchSize: 3 }).batchSize).toBe(3);
    expect(HealthCheckConfig.from(undefined).batchSize).toBe(5);
  });
});

describe('HealthCheckConfig validation', () => {
  // [option, bad value, what the message must say about the expectation]
  const cases: [string, unknown, RegExp][] = [
    ['enabled', 'yes', /expected true or false/],
    ['enabled', 1, /expected true or false/],
    ['timeoutMs', '1000', /expected a number above 0/],
    ['timeoutMs', 0, /above 0/],
    ['timeoutMs', -5, /above 0/],
    ['timeoutMs', NaN, /expected a number/],
    ['timeoutMs', Infinity, /expected a number/],
    ['query', '', /non-empty string/],
    ['query', '   ', /non-empty string/],
    ['query', 42, /non-empty string/],
    ['intervalMs', 0, /integer from 1/],
    ['intervalMs', 1.5, /integer from 1/],
    ['intervalMs', '30', /integer from 1/],
    ['maxAgeMs', 0, /above 0/],
    ['maxAgeMs', -1, /above 0/],
    ['maxAgeMs', null, /above 0/],
    ['maxUsage', 2.5, /integer above 0/],
    ['maxUsage', 0, /integer above 0/],
    ['maxIdleTimeMs', -1, /above 0/],
    ['maxIdleTimeMs', '300', /above 0/],
    ['maxConsecutiveFailures', -1, /integer from 0/],
    ['maxConsecutiveFailures', 1.5, /integer from 0/],
    ['cacheDurationMs', -1, /number from 0/],
    ['cacheDurationMs', true, /number from 0/],
    ['minHealthyConnections', -1, /integer from 0/],
    ['minHealthyConnections', 0.5, /integer from 0/],
    ['batchSize', 0, /integer from 1/],
    ['batchSize', 2.5, /integer from 1/],
  ];

  test.each(cases)('%s = %j is refused by the constructor, naming option and value', (option, value, expectation) => {
    const error = captureError(() => new HealthCheckConfig({ [option]: value }));
    expect(error).toBeInstanceOf(ConfigurationError);
    const configError = error as ConfigurationError;
    expect(configError.code).toBe('SQLITE_POOL_INVALID_CONFIG');
    expect(configError.name).toBe('ConfigurationError');
    expect(configError.option).toBe(`healthCheckConfig.${option}`);
    expect(configError.message).toContain(`healthCheckConfig.${option}`);
    expect(configError.message).toContain(typeof value === 'string' ? JSON.stringify(value) : String(value));
    expect(configError.message).toMatch(expectation);
  });

  test.each(cases)('%s = %j is refused by the run-time setter, and the old value stays', (option, value) => {
    const config = new HealthCheckConfig();
    const before = config.toJSON();
    const error = captureError(() => {
      (config as unknown as Record<string, unknown>)[option] = value;
    });
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(`healthCheckConfig.${option}`);
    expect(config.toJSON()).toEqual(before);
  });

  test('run-time setters accept good values (the guide raises timeout on a live config)', () => {
    const config = new HealthCheckConfig();
    config.timeoutMs = 5000;
    config.query = 'PRAGMA quick_check(1)';
    config.enabled = false;
    config.maxUsage = Infinity;
    expect(config.timeoutMs).toBe(5000);
    expect(config.query).toBe('PRAGMA quick_check(1)');
    expect(config.enabled).toBe(false);
    expect(config.maxUsage).toBe(Infinity);
  });

  test.each([
    ['timeout', 'timeoutMs'],
    ['max_age', 'maxAgeMs'],
    ['interval', 'intervalMs'],
    ['max_idle_time', 'maxIdleTimeMs'],
    ['maxUsge', 'maxUsage'],
    ['batch_size', 'batchSize'],
  ])('the guide-style or misspelled key %s is refused with a suggestion of %s', (key, suggestion) => {
    const error = captureError(() => new HealthCheckConfig({ [key]: 1 }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(`healthCheckConfig.${key}`);
    expect((error as ConfigurationError).message).toContain(`did you mean ${suggestion}?`);
  });

  test('an unknown key far from every option lists the known ones', () => {
    const error = captureError(() => new HealthCheckConfig({ colour: 'blue' } as never)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('Invalid healthCheckConfig.colour: "blue"');
    expect(error.message).toContain('known: enabled, timeoutMs');
  });

  test.each([null, 'fast', 5, [1]])('a non-object (%j) is refused', (value) => {
    const error = captureError(() => new HealthCheckConfig(value as never)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.option).toBe('healthCheckConfig');
    expect(error.message).toContain('expected an options object');
  });
});
