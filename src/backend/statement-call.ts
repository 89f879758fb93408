import type { Statement } from 'better-sqlite3';

/** Bind parameters as better-sqlite3 takes them: positional in an array, or named in an object. */
export type BindParameters = readonly unknown[] | Readonly<Record<string, unknown>>;

/** Calls a statement method with the parameters spread as better-sqlite3 expects them. */
export function callStatement(statement: Statement, method: 'run' | 'get' | 'all' | 'iterate', params: BindParameters | undefined): unknown {
  const fn = statement[method] as (...args: unknown[]) => unknown;
  if (params === undefined) return fn.call(statement);
  if (Array.isArray(params)) return fn.apply(statement, params as unknown[]);
  return fn.call(statement, params);
}
