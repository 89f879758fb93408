import { reportTelemetryFailure, type ObservedPool } from './pool-telemetry.js';

/**
 * `db.namespace`: which database a statement ran on. The pool knows its file by the path it was
 * given, often absolute (`/srv/acme/prod/data/app.db`); exported on every span and metric point,
 * that path tells whoever reads the telemetry how the host is laid out. The file name says which
 * database it is, and is what the default reports.
 */

/** What the `dbNamespace` option takes: a rule, or a function of the pool. */
export type DbNamespaceOption = 'fileName' | 'path' | ((pool: { readonly poolName: string; readonly namespace: string }) => string);

/**
 * The file name of a better-sqlite3 filename: `/srv/data/app.db` and `C:\data\app.db` give
 * `app.db`; a `file:` URI loses its query (`file:app.db?mode=ro` gives `app.db`: the query holds
 * options, and a VFS's may hold secrets); `:memory:` and `''` (a temporary database) stay as they are.
 */
export function fileNamespace(filename: string): string {
  if (filename === '' || filename === ':memory:') return filename;
  let path = filename;
  if (/^file:/i.test(path)) {
    path = path.slice('file:'.length).replace(/[?#].*$/s, '');
    if (path === ':memory:' || path === '') return ':memory:';
  }
  const name = path.replace(/[\\/]+$/, '').split(/[\\/]/).pop();
  return name === undefined || name === '' ? filename : name;
}

/** Function results by pool, per option: a user function runs once per pool, not per statement. */
const computed = new WeakMap<ObservedPool, { readonly option: DbNamespaceOption; readonly value: string }>();

/**
 * The `db.namespace` reported for `pool` under `option`. A function that throws, or returns no
 * string, is reported to the pool (as for `poolName`), and the file name is reported instead:
 * falling back to the full path would export what the function was written to hide.
 */
export function reportedNamespace(pool: ObservedPool, option: DbNamespaceOption): string {
  if (option === 'fileName') return fileNamespace(pool.namespace);
  if (option === 'path') return pool.namespace;
  const cached = computed.get(pool);
  if (cached !== undefined && cached.option === option) return cached.value;
  let value: string;
  try {
    const result = option({ poolName: pool.poolName, namespace: pool.namespace });
    if (typeof result !== 'string') throw new TypeError(`dbNamespace returned ${typeof result}, not a string`);
    value = result;
  } catch (error) {
    reportTelemetryFailure(pool, 'dbNamespace', error);
    value = fileNamespace(pool.namespace);
  }
  computed.set(pool, { option, value });
  return value;
}

/**
 * Rewrites the pool's filename, where the pool's own error messages name it (`Could not open a
 * connection to /srv/data/app.db: ...`, `The database file ... no longer exists`), into the
 * reported namespace, so a failed connect, acquire or probe span says no more about the host than
 * `db.namespace` does. Undefined when there is nothing to rewrite.
 */
export function pathHider(pool: ObservedPool, option: DbNamespaceOption): ((text: string) => string) | undefined {
  const path = pool.namespace;
  if (path === '' || path === ':memory:') return undefined;
  const reported = reportedNamespace(pool, option);
  return reported === path ? undefined : (text) => text.replaceAll(path, reported);
}
