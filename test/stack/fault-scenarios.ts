/**
 * The scenarios the stack test drives: the demo at the pool's defaults in scaled time, with its
 * load generator on (20 requests per second), and one of the demo's faults injected, held, then
 * cleared. Each runs in its own demo process, scraped by one Prometheus as its own pool.
 */
import { SCALE, scaledPoolEnv } from './scaled-time.js';

export interface Scenario {
  /** Also the pool name Prometheus gives its series. */
  readonly id: string;
  /** The demo's environment (scaled defaults plus the scenario's own settings). */
  readonly env: Record<string, string>;
  /** POST path that injects the fault; none for the healthy run. */
  readonly inject?: string;
  /** POST path that clears it. */
  readonly clear?: string;
  /**
   * A request sent right after the fault, so the first failure does not wait on the load's dice
   * (its writes come once a second on average, which scaled time would stretch to 40 s).
   */
  readonly firstRequest?: { readonly path: string; readonly body: unknown };
  /** How long the fault is held (or the healthy load runs), in real (unscaled) seconds. */
  readonly holdSeconds: number;
}

const withLoad = (overrides: Record<string, string> = {}): Record<string, string> => scaledPoolEnv({ DEMO_LOAD: '1', ...overrides });

/** 12 minutes: longer than every rule's `for` (10 minutes at most), so what would fire does. */
const FAULT_HOLD_SECONDS = 12 * 60;

export const SCENARIOS: readonly Scenario[] = [
  // 25 minutes: the longest window (15 minutes) plus the longest `for` (10 minutes).
  { id: 'healthy', env: withLoad(), holdSeconds: 25 * 60 },
  { id: 'delete-db', env: withLoad(), inject: '/faults/delete-db', clear: '/faults/restore-db', holdSeconds: FAULT_HOLD_SECONDS },
  {
    id: 'lock-db',
    env: withLoad(),
    inject: '/faults/lock-db',
    clear: '/faults/unlock-db',
    firstRequest: { path: '/users', body: { name: 'Locked out', email: 'locked-out@example.test' } },
    holdSeconds: FAULT_HOLD_SECONDS,
  },
  { id: 'close-connection', env: withLoad(), inject: '/faults/close-connection', clear: '/faults/clear', holdSeconds: FAULT_HOLD_SECONDS },
  {
    // No load and a monitoring cycle only every hour (idle retirement off too): nothing meets the
    // closed connection until the clear runs a cycle.
    id: 'close-connection-unwatched',
    env: scaledPoolEnv({ DEMO_LOAD: '0', DB_HEALTH_CHECK_INTERVAL: String(3600), DB_MAX_IDLE_TIME: String(3600) }),
    inject: '/faults/close-connection',
    clear: '/faults/clear',
    holdSeconds: FAULT_HOLD_SECONDS,
  },
  { id: 'hold-connections', env: withLoad(), inject: '/faults/hold-connections', clear: '/faults/release-connections', holdSeconds: FAULT_HOLD_SECONDS },
];

/** A real duration in test seconds. */
export const scaled = (seconds: number): number => seconds * SCALE;
