import type { HealthCheckError } from '../errors.js';
import type { ConnectionStatus } from './status.js';

/** Usage and health counters of one connection. Times are `performance.now()` milliseconds. */
export interface ConnectionMetrics {
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** Statements executed on the connection (probes excluded). */
  readonly usageCount: number;
  /** Time those statements took, in milliseconds. */
  readonly totalQueryTimeMs: number;
  readonly healthCheckCount: number;
  readonly healthCheckFailures: number;
  readonly consecutiveFailures: number;
  readonly lastHealthCheckAt: number | undefined;
  readonly lastHealthCheckPassed: boolean | undefined;
  readonly lastHealthCheckError: HealthCheckError | undefined;
}

/** What one probe found (or the cached result it reused). */
export interface HealthCheckResult {
  readonly passed: boolean;
  /** True when the cached result was reused and no probe ran. */
  readonly cached: boolean;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly error: HealthCheckError | undefined;
  readonly statusBefore: ConnectionStatus;
  readonly statusAfter: ConnectionStatus;
}

/** The guide's `get_stats()`, in camelCase; times in seconds as the guide has them. */
export interface ConnectionStats {
  connectionId: string;
  status: ConnectionStatus;
  ageSeconds: number;
  idleSeconds: number;
  usageCount: number;
  healthCheckCount: number;
  healthCheckFailures: number;
  healthCheckSuccessRate: number;
  /** Average time per statement, in seconds. */
  averageQueryTime: number;
  isHealthy: boolean;
  isExpired: boolean;
  isStale: boolean;
}
