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
export type { QueryOptions } from './statement-runner.js';
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
  QueryTimeoutError,
  WorkerExitedError,
  isConnectionFatal,
  errorType,
} from './errors.js';
export type { PoolSnapshot } from './errors.js';
export { SqlitePoolInstrumentation, INSTRUMENTATION_NAME } from './telemetry/instrumentation.js';
export type { SqlitePoolInstrumentationConfig, SqlitePoolRequestHookInfo, SqlitePoolResponseHookInfo } from './telemetry/instrumentation.js';
export { METRIC_DEFINITIONS, CLOSE_REASONS, MICROSECOND_BUCKETS_SECONDS, prometheusName } from './telemetry/metric-definitions.js';
export type { MetricDefinition, CloseReason } from './telemetry/metric-definitions.js';
export { summarizeSql, sanitizeSql } from './telemetry/sql-text.js';
export type { StatementMethod } from './telemetry/pool-telemetry.js';
export { VERSION } from './version.js';
