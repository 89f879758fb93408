import { HealthCheckConfig, type HealthCheckOptions } from './health-check-config.js';
import { filenameFromDatabaseUrl, isMemoryFilename } from './database-url.js';
import { ConfigurationError } from '../errors.js';
import { guardLogger, silentLogger, type Logger } from '../logger.js';
import { checkBoolean, checkKnownKeys, checkNonEmptyString, checkNumber, checkPlainObject } from './option-checks.js';
import { MODES, isMode, type Mode } from './modes.js';
import { resolveOnConnect, type OnConnect, type ResolvedOnConnect } from './on-connect.js';

/** Options of `new DatabaseManager(options)`. Give `databaseUrl` or `filename`. */
export interface DatabaseManagerOptions {
  /** The guide's `database_url`: `sqlite:///relative.db`, `sqlite:////absolute.db`, a path or `:memory:`. */
  databaseUrl?: string;
  /** A better-sqlite3 filename (a path or `:memory:`); an alternative to `databaseUrl`. */
  filename?: string;
  /**
   * The most connections open at once (leased, idle and being probed).
   * @default 10
   */
  poolSize?: number;
  /** Health checking, limits and monitoring; a `HealthCheckConfig` or its options. @default new HealthCheckConfig() */
  healthCheckConfig?: HealthCheckConfig | HealthCheckOptions;
  /**
   * How long `getConnection()` waits before it rejects with `AcquireTimeoutError`.
   * @default 30000
   */
  acquireTimeoutMs?: number;
  /**
   * A lease held longer than this is reported (log warning with the acquire stack, leak counter).
   * 0 switches leak detection off. Stacks are captured only while it is on.
   * @default 0
   */
  leakDetectionThresholdMs?: number;
  /**
   * How long `close()` waits for outstanding leases before it closes them anyway.
   * @default 5000
   */
  closeTimeoutMs?: number;
  /**
   * How long opening one connection may take in all (the file, the pragmas, a lock held elsewhere,
   * `onConnect`, the first probe; in worker mode the process's start) before it is abandoned: its
   * handle is closed or its process killed, and the open fails like any other (`ConnectionCreateError`
   * with an `OpenTimeoutError` cause, counted, retried with back-off). `Infinity` for no limit.
   * `close()` never waits for an open: it abandons the ones under way.
   * @default 30000
   */
  connectTimeoutMs?: number;
  /**
   * How long a statement waits in all for a lock held by another connection (of this pool,
   * another pool or another process) before it fails with `BusyTimeoutError` (code
   * `SQLITE_BUSY`). The wait is asynchronous: in-thread connections never sit in SQLite's busy
   * handler; the pool retries with a growing, jittered delay until this deadline.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * Pragmas applied to every new connection, in order, each read back: one that SQLite ignored
   * (an unknown name, a value it does not take) is refused with `ConfigurationError`. The defaults
   * suit a pool: WAL lets readers run while one connection writes. `busy_timeout` belongs to
   * `busyTimeoutMs` and is refused here.
   * @default { journal_mode: 'WAL', synchronous: 'NORMAL', foreign_keys: 'ON' } (no journal_mode when `readonly` or in memory)
   */
  pragmas?: Readonly<Record<string, string | number | boolean>>;
  /** Open connections read-only. @default false */
  readonly?: boolean;
  /** Refuse to create the database file if it does not exist. @default false */
  fileMustExist?: boolean;
  /**
   * Called with every new connection's better-sqlite3 `Database` after the pragmas (register
   * functions, create the schema); it may return a promise. Either a function (in-thread mode
   * only: a function cannot cross into a child process) or a module specifier, in both modes:
   * an absolute path, a path relative to the working directory, a `file:` URL or a package name
   * (resolved from the working directory, as the application's),
   * whose default export (or export named `onConnect`) is the function. An open whose `onConnect`
   * throws fails, is counted in `lifetime.openFailures`, and is retried like any failed open.
   * @default none
   */
  onConnect?: OnConnect;
  /**
   * Prepared statements cached per connection by the shortcuts and lease helpers.
   * @default 100
   */
  statementCacheSize?: number;
  /**
   * `db.client.connection.pool.name` in telemetry; unique within the process.
   * @default the file name (a `file:` URI without its query), with `#2`, `#3`... when another open pool has the same name
   */
  poolName?: string;
  /** Receives the pool's logs (`console`, pino...). @default silent */
  logger?: Logger;
  /**
   * `'thread'`: connections run on the calling thread (better-sqlite3's own way, the fastest for
   * short statements). `'worker'`: every connection lives in its own worker process, so probe and
   * query timeouts are real (a runaway statement's worker is terminated and replaced) and reads
   * run on several cores. The lease's async methods and the shortcuts work the same in both.
   * A worker costs a Node.js process (about 50 MB) and a round trip per statement (about 0.1 ms),
   * so it pays for heavy statements, not point reads; raise `maxUsage` with it, since every retired
   * connection is a new process.
   * @default 'thread'
   */
  mode?: Mode;
  /**
   * Worker mode: the default `timeoutMs` of every statement; `Infinity` for none. The in-thread
   * mode cannot interrupt a statement and ignores it.
   * @default Infinity
   */
  queryTimeoutMs?: number;
}

/** Validated options with every default applied. */
export interface ResolvedPoolOptions {
  readonly filename: string;
  readonly poolSize: number;
  readonly healthCheckConfig: HealthCheckConfig;
  readonly acquireTimeoutMs: number;
  readonly leakDetectionThresholdMs: number;
  readonly closeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly busyTimeoutMs: number;
  readonly pragmas: Readonly<Record<string, string | number | boolean>>;
  readonly readonly: boolean;
  readonly fileMustExist: boolean;
  readonly onConnect: ResolvedOnConnect | undefined;
  readonly statementCacheSize: number;
  readonly poolName: string | undefined;
  readonly logger: Logger;
  readonly mode: Mode;
  readonly queryTimeoutMs: number;
}

export const DEFAULT_PRAGMAS = Object.freeze({ journal_mode: 'WAL', synchronous: 'NORMAL', foreign_keys: 'ON' });
const NO_JOURNAL_DEFAULT_PRAGMAS = Object.freeze({ synchronous: 'NORMAL', foreign_keys: 'ON' });

const KNOWN_KEYS = [
  'databaseUrl', 'filename', 'poolSize', 'healthCheckConfig', 'acquireTimeoutMs', 'leakDetectionThresholdMs',
  'closeTimeoutMs', 'connectTimeoutMs', 'busyTimeoutMs', 'pragmas', 'readonly', 'fileMustExist', 'onConnect', 'statementCacheSize',
  'poolName', 'logger', 'mode', 'queryTimeoutMs',
] as const satisfies readonly (keyof DatabaseManagerOptions)[];

/** Validates every option in phases (shape, each value, then the combinations), naming the option at fault. */
export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  const options = checkPlainObject('options', input) as DatabaseManagerOptions & Record<string, unknown>;
  checkKnownKeys('', options, KNOWN_KEYS);

  const filename = resolveFilename(options);
  const poolSize = options.poolSize === undefined ? 10 : checkNumber('poolSize', options.poolSize, { min: 1, integer: true });
  const healthCheckConfig = HealthCheckConfig.from(options.healthCheckConfig, 'healthCheckConfig');
  const milliseconds = (name: keyof DatabaseManagerOptions, fallback: number, min = 0): number =>
    options[name] === undefined ? fallback : checkNumber(name, options[name], { min, allowInfinity: name === 'acquireTimeoutMs' || name === 'connectTimeoutMs' });

  const resolved: ResolvedPoolOptions = {
    filename,
    poolSize,
    healthCheckConfig,
    acquireTimeoutMs: milliseconds('acquireTimeoutMs', 30_000),
    leakDetectionThresholdMs: milliseconds('leakDetectionThresholdMs', 0),
    closeTimeoutMs: milliseconds('closeTimeoutMs', 5000),
    connectTimeoutMs: milliseconds('connectTimeoutMs', 30_000, 1),
    busyTimeoutMs: options.busyTimeoutMs === undefined ? 5000 : checkNumber('busyTimeoutMs', options.busyTimeoutMs, { min: 0, integer: true, max: 0x7fffffff }),
    // A read-only connection cannot set the journal mode (SQLITE_READONLY on a rollback-journal file),
    // and an in-memory database has no journal file to put in WAL mode.
    pragmas: options.pragmas === undefined && (options.readonly === true || isMemoryFilename(filename)) ? NO_JOURNAL_DEFAULT_PRAGMAS : resolvePragmas(options.pragmas),
    readonly: options.readonly === undefined ? false : checkBoolean('readonly', options.readonly),
    fileMustExist: options.fileMustExist === undefined ? false : checkBoolean('fileMustExist', options.fileMustExist),
    onConnect: resolveOnConnect(options.onConnect),
    statementCacheSize: options.statementCacheSize === undefined ? 100 : checkNumber('statementCacheSize', options.statementCacheSize, { min: 0, integer: true }),
    poolName: options.poolName === undefined ? undefined : checkNonEmptyString('poolName', options.poolName),
    logger: guardLogger(resolveLogger(options.logger)),
    mode: resolveMode(options.mode),
    queryTimeoutMs: options.queryTimeoutMs === undefined ? Infinity : checkNumber('queryTimeoutMs', options.queryTimeoutMs, { min: 0, exclusiveMin: true, allowInfinity: true }),
  };

  // The guide's default minimum (2) yields to a smaller pool (`poolSize: 1`, `:memory:`);
  // a minimum the caller asked for does not.
  const minimumGiven =
    options.healthCheckConfig instanceof HealthCheckConfig ||
    (typeof options.healthCheckConfig === 'object' && options.healthCheckConfig !== null && 'minHealthyConnections' in options.healthCheckConfig);
  if (!minimumGiven && healthCheckConfig.minHealthyConnections > poolSize) healthCheckConfig.minHealthyConnections = poolSize;
  if (healthCheckConfig.minHealthyConnections > poolSize) {
    throw new ConfigurationError(
      'healthCheckConfig.minHealthyConnections',
      healthCheckConfig.minHealthyConnections,
      `expected at most poolSize (${poolSize})`,
    );
  }
  if (!MODES[resolved.mode].functionsReachConnections && resolved.onConnect?.fn !== undefined) {
    throw new ConfigurationError('onConnect', 'a function', `with mode '${resolved.mode}' takes a module specifier (a function cannot cross into a worker process): put the function in a module and pass its path or file: URL`);
  }
  if (isMemoryFilename(filename) && poolSize > 1) {
    throw new ConfigurationError('poolSize', poolSize, 'expected 1 for ":memory:": every connection to ":memory:" opens a separate, empty database');
  }
  if (isMemoryFilename(filename) && resolved.readonly) {
    throw new ConfigurationError('readonly', true, 'expected false for ":memory:": an in-memory database cannot be opened read-only');
  }
  return resolved;
}

function resolveFilename(options: DatabaseManagerOptions): string {
  if (options.databaseUrl !== undefined && options.filename !== undefined) {
    throw new ConfigurationError('filename', options.filename, 'give databaseUrl or filename, not both');
  }
  if (options.databaseUrl !== undefined) return filenameFromDatabaseUrl(options.databaseUrl, 'databaseUrl');
  if (options.filename !== undefined) return checkNonEmptyString('filename', options.filename);
  throw new ConfigurationError('databaseUrl', undefined, 'give databaseUrl (sqlite:///app.db) or filename');
}

function resolvePragmas(value: unknown): Readonly<Record<string, string | number | boolean>> {
  if (value === undefined) return DEFAULT_PRAGMAS;
  const pragmas = checkPlainObject('pragmas', value);
  for (const [name, setting] of Object.entries(pragmas)) {
    if (!/^[a-z_]+$/i.test(name)) throw new ConfigurationError(`pragmas.${name}`, setting, 'expected a pragma name of letters and underscores');
    if (!['string', 'number', 'boolean'].includes(typeof setting) || (typeof setting === 'string' && !/^[\w.-]+$/.test(setting))) {
      throw new ConfigurationError(`pragmas.${name}`, setting, 'expected a number, a boolean or a single word');
    }
    if (name.toLowerCase() === 'busy_timeout') {
      throw new ConfigurationError(`pragmas.${name}`, setting, 'the pool owns the busy timeout: use the busyTimeoutMs option (the total, asynchronous wait for a lock)');
    }
  }
  return pragmas as Record<string, string | number | boolean>;
}

function resolveLogger(value: unknown): Logger {
  if (value === undefined) return silentLogger;
  const logger = checkPlainObjectOrInstance('logger', value);
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') {
      throw new ConfigurationError('logger', value, `expected an object with debug, info, warn and error methods (no ${level})`);
    }
  }
  return logger as unknown as Logger;
}

function checkPlainObjectOrInstance(option: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw new ConfigurationError(option, value, 'expected an object');
  return value as Record<string, unknown>;
}

function resolveMode(value: unknown): Mode {
  if (value === undefined) return 'thread';
  if (isMode(value)) return value;
  throw new ConfigurationError('mode', value, `expected ${Object.keys(MODES).map((mode) => `'${mode}'`).join(' or ')}`);
}
