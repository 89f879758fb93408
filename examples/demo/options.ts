/**
 * The demo's settings: environment variables first (the guide's DATABASE_URL / DB_* names, read
 * by `databaseSettingsFromEnv`, plus a few demo-only ones), then command-line flags.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ConfigurationError,
  databaseSettingsFromEnv,
  filenameFromDatabaseUrl,
  type HealthCheckConfig,
} from '../../src/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface DemoOptions {
  help: boolean;
  host: string;
  /** 0 picks a free port (printed in the READY line). */
  port: number;
  /** Absolute path of the SQLite file. */
  filename: string;
  poolSize: number;
  healthCheckConfig: HealthCheckConfig;
  acquireTimeoutMs: number;
  busyTimeoutMs: number;
  leakDetectionThresholdMs: number;
  seedUsers: number;
  load: { enabled: boolean; rps: number; concurrency: number };
  /** DEMO_FAULTS / --faults / --no-faults; undefined: on when listening on loopback only (see fault-guard.ts). */
  faults: boolean | undefined;
  progressIntervalMs: number;
  logLevel: LogLevel;
  serviceName: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The demo's defaults where they differ from the pool's (a short monitoring interval, so faults are found quickly). */
export const DEMO_DEFAULTS = {
  databaseUrl: 'sqlite:///demo-data/demo.db',
  healthCheckIntervalSeconds: '5',
  port: 3000,
  acquireTimeoutSeconds: 2,
  busyTimeoutSeconds: 0.1,
  leakThresholdSeconds: 10,
  seedUsers: 1000,
  loadRps: 20,
  loadConcurrency: 4,
  progressIntervalSeconds: 5,
} as const;

export const HELP = `Usage: npm start -- [--no-load] [--rps N] [--port N] [--host ADDRESS] [--faults | --no-faults]
       node --import tsx examples/demo-service.ts [same flags]

An HTTP service on an embedded SQLite file, served through a health-checked otel-sqlite-pool,
with Prometheus metrics, OTLP traces, a built-in load generator and fault injection.

Flags (override the variables):
  --no-load / --load     switch the built-in load generator off / on (default on)
  --rps N                load generator rate, requests per second (default ${DEMO_DEFAULTS.loadRps})
  --port N               HTTP port (0 = any free port)
  --host ADDRESS         address to bind (default 127.0.0.1)
  --faults / --no-faults fault injection routes on / off (default: on when listening on loopback only)
  --help                 this text

Environment:
  HOST                       bind address (default 127.0.0.1: loopback only; HOST=0.0.0.0 exposes the service)
  DEMO_FAULTS                1/0: the POST /faults/* routes on/off (default: on when HOST is loopback, off beyond it)
  PORT                       HTTP port (default ${DEMO_DEFAULTS.port}; 0 = any free port)
  DATABASE_URL               sqlite:///relative.db, sqlite:////absolute.db or a path (default ${DEMO_DEFAULTS.databaseUrl})
  DB_POOL_SIZE               most connections (default 10)
  DB_HEALTH_CHECK_ENABLED    probe connections (default true)
  DB_HEALTH_CHECK_TIMEOUT    probe timeout, seconds (default 1)
  DB_HEALTH_CHECK_INTERVAL   monitoring interval, seconds (default ${DEMO_DEFAULTS.healthCheckIntervalSeconds} in the demo, 30 in the pool)
  DB_MAX_CONNECTION_AGE      seconds (default 3600)
  DB_MAX_CONNECTION_USAGE    statements per connection (default 1000)
  DB_MIN_HEALTHY_CONNECTIONS connections kept open; /healthz answers 503 below it (default 2)
  DB_HEALTH_CHECK_QUERY      probe query (default "SELECT 1"; "BEGIN IMMEDIATE; ROLLBACK" makes probes fail under lock-db)
  DB_MAX_IDLE_TIME           seconds an idle connection is kept (default 300)
  DB_HEALTH_CHECK_CACHE_DURATION  seconds a passed probe is trusted at borrow (default 5)
  DB_ACQUIRE_TIMEOUT         how long a request waits for a connection, seconds (default ${DEMO_DEFAULTS.acquireTimeoutSeconds})
  DB_BUSY_TIMEOUT            how long a statement waits for a lock, seconds (default ${DEMO_DEFAULTS.busyTimeoutSeconds})
  DEMO_LEAK_THRESHOLD        seconds a lease may be held before it is reported as a leak (default ${DEMO_DEFAULTS.leakThresholdSeconds})
  DEMO_LOAD                  1/0: built-in load generator on/off (default 1)
  DEMO_LOAD_RPS              load generator rate (default ${DEMO_DEFAULTS.loadRps}); DEMO_LOAD_CONCURRENCY (default ${DEMO_DEFAULTS.loadConcurrency})
  DEMO_SEED_USERS            users created in a new database (default ${DEMO_DEFAULTS.seedUsers})
  DEMO_PROGRESS_INTERVAL     seconds between progress lines (default ${DEMO_DEFAULTS.progressIntervalSeconds})
  LOG_LEVEL                  debug (every probe), info, warn or error (default info)
  OTEL_SERVICE_NAME          service.name (default otel-sqlite-pool-demo)
  OTEL_EXPORTER_OTLP_ENDPOINT          e.g. http://127.0.0.1:4318: traces over OTLP/HTTP (off when unset)
  OTEL_EXPORTER_PROMETHEUS_HOST/_PORT  metrics endpoint (default 127.0.0.1:9464)
`;

/** Reads the environment and the flags; throws `ConfigurationError` naming the variable or flag at fault. */
export function parseDemoOptions(argv: readonly string[], env: Env): DemoOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      load: { type: 'boolean' },
      'no-load': { type: 'boolean' },
      rps: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      faults: { type: 'boolean' },
      'no-faults': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });

  // The guide's variables, with the demo's shorter monitoring interval unless one is set.
  const settings = databaseSettingsFromEnv({
    ...env,
    DATABASE_URL: env.DATABASE_URL?.trim() || DEMO_DEFAULTS.databaseUrl,
    DB_HEALTH_CHECK_INTERVAL: env.DB_HEALTH_CHECK_INTERVAL?.trim() || DEMO_DEFAULTS.healthCheckIntervalSeconds,
  });
  const filename = filenameFromDatabaseUrl(settings.databaseUrl, 'DATABASE_URL');
  if (filename === ':memory:') {
    throw new ConfigurationError('DATABASE_URL', env.DATABASE_URL, 'the demo needs a database file (its faults delete and lock it)');
  }
  const config = settings.healthCheckConfig;
  const minHealthy = integer(env, 'DB_MIN_HEALTHY_CONNECTIONS', undefined, 0);
  if (minHealthy !== undefined) config.minHealthyConnections = minHealthy;
  const query = env.DB_HEALTH_CHECK_QUERY?.trim();
  if (query) config.query = query;
  // Not among the guide's variables; the stack tests scale every duration of the pool with them.
  const maxIdle = optionalSeconds(env, 'DB_MAX_IDLE_TIME');
  if (maxIdle !== undefined) config.maxIdleTimeMs = maxIdle;
  const cacheDuration = optionalSeconds(env, 'DB_HEALTH_CHECK_CACHE_DURATION');
  if (cacheDuration !== undefined) config.cacheDurationMs = cacheDuration;

  const loadFromEnv = env.DEMO_LOAD === undefined || env.DEMO_LOAD.trim() === '' ? true : boolean(env, 'DEMO_LOAD');
  const load = values['no-load'] ? false : values.load ? true : loadFromEnv;
  const faultsFromEnv = env.DEMO_FAULTS === undefined || env.DEMO_FAULTS.trim() === '' ? undefined : boolean(env, 'DEMO_FAULTS');
  const faults = values['no-faults'] ? false : values.faults ? true : faultsFromEnv;

  return {
    help: values.help ?? false,
    host: values.host ?? (env.HOST?.trim() || '127.0.0.1'),
    port: port(values.port ?? env.PORT, values.port === undefined ? 'PORT' : '--port') ?? DEMO_DEFAULTS.port,
    filename: resolve(filename),
    poolSize: settings.poolSize,
    healthCheckConfig: config,
    acquireTimeoutMs: positiveNumber(env, 'DB_ACQUIRE_TIMEOUT', DEMO_DEFAULTS.acquireTimeoutSeconds) * 1000,
    busyTimeoutMs: Math.round(positiveNumber(env, 'DB_BUSY_TIMEOUT', DEMO_DEFAULTS.busyTimeoutSeconds) * 1000),
    leakDetectionThresholdMs: Math.round(positiveNumber(env, 'DEMO_LEAK_THRESHOLD', DEMO_DEFAULTS.leakThresholdSeconds) * 1000),
    seedUsers: integer(env, 'DEMO_SEED_USERS', DEMO_DEFAULTS.seedUsers, 1),
    load: {
      enabled: load,
      rps: values.rps !== undefined ? positive(values.rps, '--rps') : positiveNumber(env, 'DEMO_LOAD_RPS', DEMO_DEFAULTS.loadRps),
      concurrency: integer(env, 'DEMO_LOAD_CONCURRENCY', DEMO_DEFAULTS.loadConcurrency, 1),
    },
    faults,
    progressIntervalMs: positiveNumber(env, 'DEMO_PROGRESS_INTERVAL', DEMO_DEFAULTS.progressIntervalSeconds) * 1000,
    logLevel: logLevel(env.LOG_LEVEL),
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'otel-sqlite-pool-demo',
  };
}

function port(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new ConfigurationError(name, raw, 'expected a port from 0 to 65535');
  return value;
}

function positive(raw: string, name: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new ConfigurationError(name, raw, 'expected a number above 0');
  return value;
}

function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? fallback : positive(raw, name);
}

function optionalSeconds(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : Math.round(positive(raw, name) * 1000);
}

function integer<T extends number | undefined>(env: Env, name: string, fallback: T, min: number): number | T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigurationError(name, raw, `expected an integer from ${min}`);
  return value;
}

function boolean(env: Env, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase() ?? '';
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigurationError(name, env[name], 'expected 1 or 0 (also true/false, yes/no, on/off)');
}

function logLevel(raw: string | undefined): LogLevel {
  const value = raw?.trim().toLowerCase() || 'info';
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new ConfigurationError('LOG_LEVEL', raw, 'expected debug, info, warn or error');
}
