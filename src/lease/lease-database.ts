import type { Database, Statement } from 'better-sqlite3';
import { LeaseReleasedError } from '../errors.js';
import type { LeasedConnection } from './leased-connection.js';
import { runSync, type RunContext } from './statement-runner.js';

/** What the lease-bound handle needs from its lease. */
export interface HandleLease {
  readonly connectionId: string;
  readonly released: boolean;
  readonly context: RunContext;
  current(): LeasedConnection;
  prepare(sql: string): Statement;
}

/** The lease-bound handles, to their connections' own `Database` (`findConnection()` takes either). */
const handles = new WeakMap<object, Database>();

export function rawDatabase(db: Database): Database {
  return handles.get(db) ?? db;
}

type Callable = (...args: unknown[]) => unknown;

/**
 * `lease.connection`: the better-sqlite3 `Database` of the leased connection, synchronous as
 * better-sqlite3 is, but bound to the lease. `prepare()` gives lease statements (their modes stay
 * theirs, their iterators end with the lease), `exec()` and `pragma()` are counted and traced like
 * every statement, and once the lease is released every property and method throws
 * `LeaseReleasedError`, so a stale reference can never reach the connection's next borrower.
 */
export function leaseDatabase(lease: HandleLease, db: Database): Database {
  const bound = new Map<PropertyKey, Callable>();
  // Every function handed out checks the lease when called, not only when it is read: a method
  // read before release (`const define = lease.connection.function`) ends with the lease too.
  // One that returns the connection's own handle (`function()`, `aggregate()`... return `this`)
  // returns this one instead.
  const guard = <F extends Callable>(fn: F): F =>
    function (this: unknown, ...args: unknown[]) {
      if (lease.released) throw new LeaseReleasedError(lease.connectionId);
      const result = fn.apply(this, args);
      return result === db ? handle : result;
    } as F;
  const own: Record<string, Callable> = {
    prepare: guard((sql) => lease.prepare(sql as string)),
    exec: guard((sql) => {
      const entry = lease.current();
      runSync(lease.context, entry, lease.context.catalog.get(String(sql), 'exec'), 'exec', [], () => db.exec(String(sql)));
      return handle;
    }),
    pragma: guard((source, options) => {
      const entry = lease.current();
      return runSync(lease.context, entry, lease.context.catalog.get(String(source), 'pragma'), 'pragma', [], () => db.pragma(String(source), options as never));
    }),
    // better-sqlite3's transaction functions run on the connection; each call checks the lease.
    transaction: guard((fn) => {
      const transaction = db.transaction(fn as Callable) as unknown as Record<string, Callable> & Callable;
      const wrapped = guard<Callable & Record<string, Callable>>(transaction);
      for (const variant of ['deferred', 'immediate', 'exclusive'] as const) wrapped[variant] = guard(transaction[variant] as Callable);
      return wrapped;
    }),
  };
  const handle = new Proxy(db, {
    get(target, property) {
      if (lease.released) throw new LeaseReleasedError(lease.connectionId);
      if (typeof property === 'string' && property in own) return own[property];
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let fn = bound.get(property);
      if (fn === undefined) bound.set(property, (fn = guard((value as Callable).bind(target))));
      return fn;
    },
    set(target, property, value) {
      if (lease.released) throw new LeaseReleasedError(lease.connectionId);
      return Reflect.set(target, property, value, target);
    },
  });
  handles.set(handle, db);
  return handle;
}
