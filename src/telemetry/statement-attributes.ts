import type { Attributes } from '@opentelemetry/api';
import type { StatementInfo } from './statement-info.js';
import type { ObservedPool } from './pool-telemetry.js';
import { describeSql } from './sql-text.js';
import { reportedNamespace } from './namespace.js';
import type { Resolved } from './instrumentation-config.js';
import * as sc from './semconv.js';

/** Everything a statement's span and duration need, computed once per prepared statement. */
export interface StatementTelemetry {
  readonly generation: number;
  readonly poolName: string;
  readonly spanName: string;
  readonly spanAttributes: Attributes;
  readonly metricAttributes: Attributes;
}

/**
 * Span name from the query summary (`SELECT users`), falling back to `sqlite`. `db.query.text` is
 * sanitised whenever the text holds a literal or a comment, whatever path the statement took (a
 * prepared statement can be written with literals as well as a script can), and reported as
 * written otherwise. All of it is computed here, once per statement text: never per execution.
 */
export function statementTelemetry(statement: StatementInfo, pool: ObservedPool, poolName: string, config: Pick<Resolved, 'maxQueryLength' | 'dbNamespace'>, generation: number): StatementTelemetry {
  const source = statement.kind === 'pragma' ? `PRAGMA ${statement.source}` : statement.source;
  const { summary, operation, text } = describeSql(source, config.maxQueryLength);
  const namespace = reportedNamespace(pool, config.dbNamespace);
  const spanAttributes: Attributes = {
    [sc.ATTR_DB_SYSTEM_NAME]: sc.DB_SYSTEM_NAME_VALUE_SQLITE,
    [sc.ATTR_DB_NAMESPACE]: namespace,
    [sc.ATTR_DB_QUERY_TEXT]: text,
    [sc.ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: poolName,
  };
  if (summary !== '') spanAttributes[sc.ATTR_DB_QUERY_SUMMARY] = summary;
  if (operation !== undefined) spanAttributes[sc.ATTR_DB_OPERATION_NAME] = operation;
  const metricAttributes: Attributes = {
    [sc.ATTR_DB_SYSTEM_NAME]: sc.DB_SYSTEM_NAME_VALUE_SQLITE,
    [sc.ATTR_DB_NAMESPACE]: namespace,
    [sc.ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: poolName,
  };
  if (summary !== '') metricAttributes[sc.ATTR_DB_QUERY_SUMMARY] = summary;
  if (operation !== undefined) metricAttributes[sc.ATTR_DB_OPERATION_NAME] = operation;
  return { generation, poolName, spanName: summary === '' ? sc.DB_SYSTEM_NAME_VALUE_SQLITE : summary, spanAttributes, metricAttributes };
}
