import type { HealthCheckConfig } from '../config/health-check-config.js';

/** The guide's four connection states. */
export const ConnectionStatus = {
  /** Working properly. */
  HEALTHY: 'healthy',
  /** Broken (a fatal probe finding or connection-level error), or failed too many probes in a row. */
  UNHEALTHY: 'unhealthy',
  /** Idle longer than `maxIdleTimeMs`. */
  STALE: 'stale',
  /** Older than `maxAgeMs`, or used more than `maxUsage` times. */
  EXPIRED: 'expired',
} as const;
export type ConnectionStatus = (typeof ConnectionStatus)[keyof typeof ConnectionStatus];

/**
 * Why a connection was closed (`sqlite_pool.close.reason`):
 * - `max_age`, `max_usage`: expired by the age or usage limit;
 * - `idle`: stale, idle longer than `maxIdleTimeMs`;
 * - `unhealthy`: more failed probes in a row than `maxConsecutiveFailures` (slow, locked, or a failing probe query);
 * - `error`: the connection broke: its handle closed, its file missing or replaced, corruption,
 *   its process gone, or a connection-level error of the pool's own file during a statement;
 * - `shutdown`: `close()`.
 */
export const CLOSE_REASONS = ['max_age', 'max_usage', 'idle', 'unhealthy', 'error', 'shutdown'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Why a connection is broken: set by a fatal finding, too many failed probes, or a connection-level error; never undone. */
export type Broken = 'failures' | 'error' | undefined;

/** The usage a status is derived from. Times are `performance.now()` milliseconds. */
export interface Usage {
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly usageCount: number;
}

/** Unhealthy first (it is the most serious), then expired, then stale: the guide's order. */
export function statusAt(broken: Broken, open: boolean, usage: Usage, config: HealthCheckConfig, nowMs: number): ConnectionStatus {
  if (broken !== undefined || !open) return ConnectionStatus.UNHEALTHY;
  if (isExpiredAt(usage, config, nowMs)) return ConnectionStatus.EXPIRED;
  if (nowMs - usage.lastUsedAt > config.maxIdleTimeMs) return ConnectionStatus.STALE;
  return ConnectionStatus.HEALTHY;
}

export function isExpiredAt(usage: Usage, config: HealthCheckConfig, nowMs: number): boolean {
  return nowMs - usage.createdAt > config.maxAgeMs || usage.usageCount > config.maxUsage;
}

/** Share of the age and usage limits past which a connection's successor is opened ahead of need. */
export const NEARLY_EXPIRED = 0.9;

/** Whether a connection has used up most of its age or usage limit (its retirement is near). */
export function isNearlyExpiredAt(usage: Usage, config: HealthCheckConfig, nowMs: number): boolean {
  return nowMs - usage.createdAt > config.maxAgeMs * NEARLY_EXPIRED || usage.usageCount > config.maxUsage * NEARLY_EXPIRED;
}

/** The limit a nearly expired connection is close to: its age, else its usage. */
export function nearLimitAt(usage: Usage, config: HealthCheckConfig, nowMs: number): 'max_age' | 'max_usage' {
  return nowMs - usage.createdAt > config.maxAgeMs * NEARLY_EXPIRED ? 'max_age' : 'max_usage';
}

/** The close reason for a connection retired in this status. */
export function closeReasonFor(broken: Broken, usage: Usage, config: HealthCheckConfig, status: ConnectionStatus, nowMs: number): CloseReason {
  switch (status) {
    case ConnectionStatus.UNHEALTHY:
      return broken === 'failures' ? 'unhealthy' : 'error';
    case ConnectionStatus.EXPIRED:
      return nowMs - usage.createdAt > config.maxAgeMs ? 'max_age' : 'max_usage';
    case ConnectionStatus.STALE:
      return 'idle';
    default:
      return 'shutdown';
  }
}
