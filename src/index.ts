export { HealthCheckConfig, HEALTH_CHECK_DEFAULTS } from './config.js';
export type { HealthCheckOptions } from './config.js';
export { healthCheckConfigFromEnv, databaseSettingsFromEnv, DEFAULT_DATABASE_URL, DEFAULT_POOL_SIZE } from './env-settings.js';
export type { DatabaseSettings } from './env-settings.js';
export { filenameFromDatabaseUrl } from './database-url.js';
export { HealthyConnection, ConnectionStatus } from './healthy-connection.js';
export type { ConnectionMetrics, ConnectionStats, HealthCheckResult, HealthyConnectionOptions } from './healthy-connection.js';
export { ConnectionHealthManager } from './connection-health-manager.js';
export type { PoolStatistics, MonitoringCycleResult } from './connection-health-manager.js';
export { DatabaseManager } from './database-manager.js';
export type { AcquireOptions, ConnectionStatsReport, LifetimeCounters, CloseReport, ForcedLease } from './database-manager.js';
export type { DatabaseManagerOptions } from './pool-options.js';
export { DEFAULT_PRAGMAS } from './pool-options.js';
export { Lease } from './lease.js';
export type { BindParameters } from './statement-call.js';
export type { Logger } from './logger.js';
export {
  SqlitePoolError,
  ConfigurationError,
  AcquireTimeoutError,
  AcquireAbortedError,
  PoolClosedError,
  ConnectionCreateError,
  LeaseReleasedError,
  HealthCheckError,
  isConnectionFatal,
  errorType,
} from './errors.js';
export type { PoolSnapshot } from './errors.js';
