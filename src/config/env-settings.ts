import { HealthCheckConfig, type HealthCheckOptions } from './health-check-config.js';
import { ConfigurationError } from '../errors.js';

/** What the guide's environment variables configure, ready to pass to `DatabaseManager`. */
export interface DatabaseSettings {
  databaseUrl: string;
  poolSize: number;
  healthCheckConfig: HealthCheckConfig;
}

/** The guide's default `DATABASE_URL`. */
export const DEFAULT_DATABASE_URL = 'sqlite:///voyager_trader.db';
/** The guide's default `DB_POOL_SIZE`. */
export const DEFAULT_POOL_SIZE = 10;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the guide's health-check variables, in the guide's units (seconds):
 * `DB_HEALTH_CHECK_ENABLED`, `DB_HEALTH_CHECK_TIMEOUT`, `DB_HEALTH_CHECK_INTERVAL`,
 * `DB_MAX_CONNECTION_AGE` and `DB_MAX_CONNECTION_USAGE`. Unset variables keep the defaults.
 */
export function healthCheckConfigFromEnv(env: Env = process.env): HealthCheckConfig {
  const options: HealthCheckOptions = {};
  const enabled = readBoolean(env, 'DB_HEALTH_CHECK_ENABLED');
  if (enabled !== undefined) options.enabled = enabled;
  const timeout = readSeconds(env, 'DB_HEALTH_CHECK_TIMEOUT');
  if (timeout !== undefined) options.timeoutMs = timeout;
  const interval = readSeconds(env, 'DB_HEALTH_CHECK_INTERVAL');
  if (interval !== undefined) options.intervalMs = interval;
  const maxAge = readSeconds(env, 'DB_MAX_CONNECTION_AGE');
  if (maxAge !== undefined) options.maxAgeMs = maxAge;
  const maxUsage = readNumber(env, 'DB_MAX_CONNECTION_USAGE');
  if (maxUsage !== undefined) options.maxUsage = maxUsage;
  try {
    return new HealthCheckConfig(options);
  } catch (error) {
    // Name the variable the user set, not the option it became.
    throw renameOption(error, {
      'healthCheckConfig.enabled': 'DB_HEALTH_CHECK_ENABLED',
      'healthCheckConfig.timeoutMs': 'DB_HEALTH_CHECK_TIMEOUT',
      'healthCheckConfig.intervalMs': 'DB_HEALTH_CHECK_INTERVAL',
      'healthCheckConfig.maxAgeMs': 'DB_MAX_CONNECTION_AGE',
      'healthCheckConfig.maxUsage': 'DB_MAX_CONNECTION_USAGE',
    }, env);
  }
}

/**
 * The guide's `DatabaseSettings`: `DATABASE_URL`, `DB_POOL_SIZE` and the health-check variables.
 * `new DatabaseManager(databaseSettingsFromEnv())` configures a pool from the environment.
 */
export function databaseSettingsFromEnv(env: Env = process.env): DatabaseSettings {
  const poolSize = readNumber(env, 'DB_POOL_SIZE') ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new ConfigurationError('DB_POOL_SIZE', env.DB_POOL_SIZE, 'expected an integer from 1');
  }
  const databaseUrl = env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  return { databaseUrl, poolSize, healthCheckConfig: healthCheckConfigFromEnv(env) };
}

function readBoolean(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigurationError(name, env[name], 'expected true or false (also 1/0, yes/no, on/off)');
}

function readNumber(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigurationError(name, env[name], 'expected a number');
  return value;
}

function readSeconds(env: Env, name: string): number | undefined {
  const seconds = readNumber(env, name);
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

function renameOption(error: unknown, names: Record<string, string>, env: Env): unknown {
  if (!(error instanceof ConfigurationError)) return error;
  const variable = names[error.option];
  if (variable === undefined) return error;
  return new ConfigurationError(variable, env[variable], error.expectation, { cause: error });
}
