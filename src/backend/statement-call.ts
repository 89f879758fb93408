import type { Statement } from 'better-sqlite3';

/** Bind parameters as better-sqlite3 takes them: positional in an array, or named in an object. */
export type BindParameters = readonly unknown[] | Readonly<Record<string, unknown>>;

/** Calls a statement method with the parameters spread as better-sqlite3 expects them. */
export function callStatement(statement: Statement, method: 'run' | 'get' | 'all' | 'iterate', params: BindParameters | undefined): unknown {
  const fn = statement[method] as (...args: unknown[]) => unknown;
  if (params === undefined) return fn.call(statement);
  if (!Array.isArray(params)) return fn.call(statement, params);
  // Most statements take one or two values: a direct call skips apply()'s array spreading.
  const values = params as readonly unknown[];
  switch (values.length) {
    case 0:
      return fn.call(statement);
    case 1:
      return fn.call(statement, values[0]);
    case 2:
      return fn.call(statement, values[0], values[1]);
    default:
      return fn.apply(statement, values as unknown[]);
  }
}
