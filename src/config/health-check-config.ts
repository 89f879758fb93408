import {
  checkBoolean,
  checkKnownKeys,
  checkNonEmptyString,
  checkNumber,
  checkPlainObject,
  type NumberRange,
} from './option-checks.js';

/** Options of {@link HealthCheckConfig}; every one is optional and has the guide's default. */
export interface HealthCheckOptions {
  /**
   * Probe connections at all. When false, no probe runs (on borrow or in the background);
   * the age, usage and idle limits still retire connections.
   * @default true
   */
  enabled?: boolean;
  /**
   * A probe slower than this fails. In the default in-thread mode a synchronous SQLite call cannot
   * be interrupted, so the timeout is applied as SQLite's busy timeout while the probe waits for a
   * lock, and a probe that took longer counts as failed.
   * @default 1000
   */
  timeoutMs?: number;
  /**
   * The query a probe runs after its structural checks (handle open, no open transaction, same
   * file). Several statements separated by `;` run with `exec()`.
   * @default "SELECT 1"
   */
  query?: string;
  /**
   * Time between background monitoring cycles.
   * @default 30000
   */
  intervalMs?: number;
  /**
   * A connection older than this is expired and replaced. `Infinity` switches the limit off.
   * @default 3600000
   */
  maxAgeMs?: number;
  /**
   * A connection that has executed more statements than this is expired and replaced.
   * `Infinity` switches the limit off.
   * @default 1000
   */
  maxUsage?: number;
  /**
   * A connection idle for longer than this is stale: it is closed instead of handed out, and
   * replaced while the pool is below `minHealthyConnections`. `Infinity` switches it off.
   * @default 300000
   */
  maxIdleTimeMs?: number;
  /**
   * More failed probes in a row than this mark a connection unhealthy. A probe that finds the
   * handle closed or the file deleted or replaced marks it unhealthy at once.
   * @default 3
   */
  maxConsecutiveFailures?: number;
  /**
   * A probe result younger than this is reused instead of probing again (unless forced).
   * @default 5000
   */
  cacheDurationMs?: number;
  /**
   * The pool opens this many connections at start and refills to it after replacing others.
   * @default 2
   */
  minHealthyConnections?: number;
  /**
   * How many idle connections a monitoring cycle probes at a time.
   * @default 5
   */
  batchSize?: number;
}

type HealthCheckValues = Required<HealthCheckOptions>;

/** The guide's defaults (`HealthCheckConfig` in connection-health-guide.md), in milliseconds. */
export const HEALTH_CHECK_DEFAULTS: Readonly<HealthCheckValues> = Object.freeze({
  enabled: true,
  timeoutMs: 1000,
  query: 'SELECT 1',
  intervalMs: 30_000,
  maxAgeMs: 3_600_000,
  maxUsage: 1000,
  maxIdleTimeMs: 300_000,
  maxConsecutiveFailures: 3,
  cacheDurationMs: 5000,
  minHealthyConnections: 2,
  batchSize: 5,
});

const POSITIVE: NumberRange = { min: 0, exclusiveMin: true };
const LIMIT: NumberRange = { min: 0, exclusiveMin: true, allowInfinity: true };

const CHECKS: { [K in keyof HealthCheckValues]: (option: string, value: unknown) => HealthCheckValues[K] } = {
  enabled: checkBoolean,
  timeoutMs: (o, v) => checkNumber(o, v, POSITIVE),
  query: checkNonEmptyString,
  intervalMs: (o, v) => checkNumber(o, v, { min: 1, integer: true }),
  maxAgeMs: (o, v) => checkNumber(o, v, LIMIT),
  maxUsage: (o, v) => checkNumber(o, v, { ...LIMIT, integer: true }),
  maxIdleTimeMs: (o, v) => checkNumber(o, v, LIMIT),
  maxConsecutiveFailures: (o, v) => checkNumber(o, v, { min: 0, integer: true }),
  cacheDurationMs: (o, v) => checkNumber(o, v, { min: 0 }),
  minHealthyConnections: (o, v) => checkNumber(o, v, { min: 0, integer: true }),
  batchSize: (o, v) => checkNumber(o, v, { min: 1, integer: true }),
};

const KEYS = Object.keys(HEALTH_CHECK_DEFAULTS) as (keyof HealthCheckValues)[];

/**
 * Health-check settings, validated. Fields can be changed at run time (the guide's
 * troubleshooting raises `timeout` on a live config); a change is validated and takes effect at
 * the next probe or monitoring cycle.
 */
export class HealthCheckConfig implements HealthCheckValues {
  readonly #values: HealthCheckValues;
  readonly #prefix: string;

  constructor(options: HealthCheckOptions = {}, optionPath = 'healthCheckConfig') {
    this.#prefix = optionPath;
    const given = checkPlainObject(optionPath, options);
    checkKnownKeys(optionPath, given, KEYS);
    this.#values = { ...HEALTH_CHECK_DEFAULTS };
    for (const key of KEYS) {
      if (given[key] !== undefined) this.#set(key, given[key]);
    }
  }

  /** Accepts a config, an options object or nothing, and returns a validated config. */
  static from(value: HealthCheckConfig | HealthCheckOptions | undefined, optionPath?: string): HealthCheckConfig {
    return value instanceof HealthCheckConfig ? value : new HealthCheckConfig(value, optionPath);
  }

  #set<K extends keyof HealthCheckValues>(key: K, value: unknown): void {
    this.#values[key] = CHECKS[key](`${this.#prefix}.${key}`, value);
  }

  get enabled(): boolean { return this.#values.enabled; }
  set enabled(value: boolean) { this.#set('enabled', value); }
  get timeoutMs(): number { return this.#values.timeoutMs; }
  set timeoutMs(value: number) { this.#set('timeoutMs', value); }
  get query(): string { return this.#values.query; }
  set query(value: string) { this.#set('query', value); }
  get intervalMs(): number { return this.#values.intervalMs; }
  set intervalMs(value: number) { this.#set('intervalMs', value); }
  get maxAgeMs(): number { return this.#values.maxAgeMs; }
  set maxAgeMs(value: number) { this.#set('maxAgeMs', value); }
  get maxUsage(): number { return this.#values.maxUsage; }
  set maxUsage(value: number) { this.#set('maxUsage', value); }
  get maxIdleTimeMs(): number { return this.#values.maxIdleTimeMs; }
  set maxIdleTimeMs(value: number) { this.#set('maxIdleTimeMs', value); }
  get maxConsecutiveFailures(): number { return this.#values.maxConsecutiveFailures; }
  set maxConsecutiveFailures(value: number) { this.#set('maxConsecutiveFailures', value); }
  get cacheDurationMs(): number { return this.#values.cacheDurationMs; }
  set cacheDurationMs(value: number) { this.#set('cacheDurationMs', value); }
  get minHealthyConnections(): number { return this.#values.minHealthyConnections; }
  set minHealthyConnections(value: number) { this.#set('minHealthyConnections', value); }
  get batchSize(): number { return this.#values.batchSize; }
  set batchSize(value: number) { this.#set('batchSize', value); }

  /** A plain copy of the current values. */
  toJSON(): HealthCheckValues {
    return { ...this.#values };
  }
}
