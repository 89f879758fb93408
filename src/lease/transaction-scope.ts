import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The transaction a piece of code runs inside, if it runs inside a `transaction()` callback: a
 * shortcut (`db.run()`, `db.get()`) issued there joins the transaction on its lease instead of
 * waiting, on another connection, for the write lock its own transaction holds.
 */
interface Scope {
  readonly pool: object;
  readonly lease: { readonly released: boolean };
}

const scopes = new AsyncLocalStorage<Scope>();

export function inTransactionScope<T>(pool: object, lease: Scope['lease'], fn: () => T): T {
  return scopes.run({ pool, lease }, fn);
}

/** The lease of the transaction of `pool` that the caller runs inside, while that lease lasts. */
export function transactionOf<L extends Scope['lease']>(pool: object): L | undefined {
  const scope = scopes.getStore();
  return scope !== undefined && scope.pool === pool && !scope.lease.released ? (scope.lease as L) : undefined;
}
