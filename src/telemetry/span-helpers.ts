import { SpanStatusCode, context, trace, type Attributes, type Span } from '@opentelemetry/api';
import { sqliteCode } from '../sqlite-errors.js';
import { sanitizeErrorText, sanitizedException } from './error-text.js';
import type { TraceHandle } from './pool-telemetry.js';
import * as sc from './semconv.js';

/** Span chores shared by every span the instrumentation records. */

/** `db.response.status_code`: only a code SQLite returned is a database response; the pool's own codes (SQLITE_POOL_*) are not. */
export function responseStatusCode(error: unknown): string | undefined {
  const code = sqliteCode(error);
  return code !== undefined && !code.startsWith('SQLITE_POOL_') ? code : undefined;
}

/**
 * Ends `span` as failed. The status message and the exception event carry the error's message and
 * stack with the values SQLite quotes in them replaced by `?` (`sanitizeErrorText`): a syntax
 * error names the literal it stopped at. `hidePath`, when given, rewrites the pool's file path
 * first (the pool's own messages name it: `Could not open a connection to /srv/data/app.db`).
 */
export function endWithError(span: Span, error: unknown, type: string, endTime?: number, hidePath?: (text: string) => string): void {
  const code = responseStatusCode(error);
  if (code !== undefined) span.setAttribute(sc.ATTR_DB_RESPONSE_STATUS_CODE, code);
  span.setAttribute(sc.ATTR_ERROR_TYPE, type);
  const clean = hidePath === undefined ? sanitizeErrorText : (text: string) => sanitizeErrorText(hidePath(text));
  if (error instanceof Error) {
    const exception = sanitizedException(error, clean);
    span.recordException(exception);
    span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
  } else {
    span.setStatus({ code: SpanStatusCode.ERROR, message: clean(String(error)) });
  }
  span.end(endTime);
}

export const NO_PARAMETERS: ArrayLike<unknown> = [];

/** Bound values as `db.query.parameter.<index or name>` (only with enhancedDatabaseReporting). */
export function parameterAttributes(args: ArrayLike<unknown>): Attributes {
  const attributes: Attributes = {};
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)) {
      for (const [key, named] of Object.entries(value)) attributes[`${sc.ATTR_DB_QUERY_PARAMETER_PREFIX}${key}`] = String(named);
    } else if (Array.isArray(value)) {
      value.forEach((item, j) => (attributes[`${sc.ATTR_DB_QUERY_PARAMETER_PREFIX}${j}`] = String(item)));
    } else {
      attributes[`${sc.ATTR_DB_QUERY_PARAMETER_PREFIX}${i}`] = value instanceof Uint8Array ? `<${value.length} bytes>` : String(value);
    }
  }
  return attributes;
}

export function parentContext(handle: TraceHandle | undefined) {
  return handle === undefined ? context.active() : trace.setSpan(context.active(), handle as Span);
}

/**
 * A `performance.now()` time, passed to the SDK as is: it takes a number below the current
 * `performance.now()` for a performance timestamp and aligns it with the wall clock the SDK's own
 * spans use (`Date.now()`). `performance.timeOrigin + ms` would not be aligned: the wall clock
 * drifts from the monotonic one (NTP), and children would sit outside their parents.
 */
export function spanTime(monotonicMs: number): number {
  return monotonicMs;
}
