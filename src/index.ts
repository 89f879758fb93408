export { HealthCheckConfig, HEALTH_CHECK_DEFAULTS } from './config/health-check-config.js';
export type { HealthCheckOptions } from './config/health-check-config.js';
export { healthCheckConfigFromEnv, databaseSettingsFromEnv, DEFAULT_DATABASE_URL, DEFAULT_POOL_SIZE } from './config/env-settings.js';
export type { DatabaseSettings } from './config/env-settings.js';
export { filenameFromDatabaseUrl } from './config/database-url.js';
export type { DatabaseManagerOptions } from './config/pool-options.js';
export { DEFAULT_PRAGMAS } from './config/pool-options.js';
export type { OnConnect } from './config/on-connect.js';
export type { AcquireOptions, CloseOptions, QueryOptions } from './config/call-options.js';
export { HealthyConnection, ConnectionStatus } from './health/healthy-connection.js';
export type { ConnectionMetrics, ConnectionStats, HealthCheckResult, HealthyConnectionOptions } from './health/healthy-connection.js';
export { ConnectionHealthManager } from './health/connection-health-manager.js';
export type { PoolStatistics, MonitoringCycleResult, MonitoredPool, PoolMonitoring } from './health/connection-health-manager.js';
export { DatabaseManager } from './pool/database-manager.js';
export type { PoolState, CloseReport, ForcedLease } from './pool/database-manager.js';
export type { ConnectionStatsReport, LifetimeCounters } from './pool/statistics.js';
export { Lease } from './lease/lease.js';
export type { BindParameters } from './backend/statement-call.js';
export type { Logger } from './logger.js';
export {
  SqlitePoolError,
  ConfigurationError,
  AcquireTimeoutError,
  AcquireAbortedError,
  PoolClosedError,
  ConnectionCreateError,
  OpenTimeoutError,
  LeaseReleasedError,
  HealthCheckError,
  QueryTimeoutError,
  WorkerExitedError,
  BusyTimeoutError,
} from './errors.js';
export type { PoolSnapshot } from './errors.js';
export { isConnectionFatal, errorType } from './sqlite-errors.js';
export { SqlitePoolInstrumentation, INSTRUMENTATION_NAME } from './telemetry/instrumentation.js';
export type { SqlitePoolInstrumentationConfig, SqlitePoolRequestHookInfo, SqlitePoolResponseHookInfo } from './telemetry/instrumentation.js';
export { METRIC_DEFINITIONS, CLOSE_REASONS, MICROSECOND_BUCKETS_SECONDS, prometheusName } from './telemetry/metric-definitions.js';
export type { MetricDefinition, CloseReason } from './telemetry/metric-definitions.js';
export { summarizeSql, sanitizeSql } from './telemetry/sql-text.js';
export type { StatementMethod } from './telemetry/pool-telemetry.js';
export { VERSION } from './version.js';
