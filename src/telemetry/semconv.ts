/**
 * Semantic-convention names (semconv 1.44, docs/db/), copied as constants: the
 * `@opentelemetry/semantic-conventions/incubating` entry point must not be imported at run time.
 */
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
export const DB_SYSTEM_NAME_VALUE_SQLITE = 'sqlite';
export const ATTR_DB_NAMESPACE = 'db.namespace';
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
export const ATTR_DB_QUERY_TEXT = 'db.query.text';
export const ATTR_DB_QUERY_SUMMARY = 'db.query.summary';
export const ATTR_DB_QUERY_PARAMETER_PREFIX = 'db.query.parameter.';
export const ATTR_DB_RESPONSE_STATUS_CODE = 'db.response.status_code';
export const ATTR_DB_RESPONSE_RETURNED_ROWS = 'db.response.returned_rows';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_DB_CLIENT_CONNECTION_POOL_NAME = 'db.client.connection.pool.name';
export const ATTR_DB_CLIENT_CONNECTION_STATE = 'db.client.connection.state';

/** Our own attributes, under `sqlite_pool.` because semconv has no names for them. */
export const ATTR_SQLITE_POOL_CONNECTION_ID = 'sqlite_pool.connection.id';
export const ATTR_SQLITE_POOL_CONNECTION_STATUS = 'sqlite_pool.connection.status';
export const ATTR_SQLITE_POOL_PREVIOUS_STATUS = 'sqlite_pool.connection.previous_status';
export const ATTR_SQLITE_POOL_HEALTH_CHECK_RESULT = 'sqlite_pool.health_check.result';
export const ATTR_SQLITE_POOL_HEALTH_CHECK_TRIGGER = 'sqlite_pool.health_check.trigger';
export const ATTR_SQLITE_POOL_HEALTH_CHECK_CACHED = 'sqlite_pool.health_check.cached';
export const ATTR_SQLITE_POOL_STAT = 'sqlite_pool.stat';
export const ATTR_SQLITE_POOL_CLOSE_REASON = 'sqlite_pool.close.reason';
export const ATTR_SQLITE_POOL_WAIT_MS = 'sqlite_pool.acquire.wait_ms';
export const ATTR_SQLITE_POOL_PROBED = 'sqlite_pool.health_monitor.probed';
export const ATTR_SQLITE_POOL_FAILED = 'sqlite_pool.health_monitor.failed';

export const SPAN_ACQUIRE = 'sqlite_pool.acquire';
export const SPAN_CONNECT = 'sqlite_pool.connect';
export const SPAN_HEALTH_CHECK = 'sqlite_pool.health_check';
export const SPAN_MONITOR_CYCLE = 'sqlite_pool.health_monitor.cycle';

export const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.44.0';
