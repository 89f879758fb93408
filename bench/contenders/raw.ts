/** Raw better-sqlite3: one connection, statements prepared once. The floor every ratio is taken against. */
import Database from 'better-sqlite3';
import { INSERT_EMAIL, INSERT_NAME, RANGE_ROWS, SQL } from '../lib/db.js';
import type { ContenderInstance, Operations } from './types.js';

export interface RawConnection {
  readonly ops: Operations;
  close(): void;
}

/** `Driver`: better-sqlite3 as loaded here, or as another contender loaded it (patched by a plugin). */
export function openRaw(filename: string, Driver: typeof Database = Database): RawConnection {
  const db = new Driver(filename);
  db.pragma('journal_mode = WAL');
  const point = db.prepare(SQL.point);
  const range = db.prepare(SQL.range);
  const insert = db.prepare(SQL.insert);
  const insertTx = db.transaction((n: number) => insert.run(INSERT_NAME, INSERT_EMAIL, n));
  const ops: Operations = {
    sync: true,
    point: (id) => point.get(id),
    range: (start) => range.all(start, start + RANGE_ROWS),
    // BEGIN IMMEDIATE, as otel-sqlite-pool's transaction() does.
    insert: (n) => insertTx.immediate(n),
  };
  return { ops, close: () => db.close() };
}

/** A second raw connection as a contender: its ratio shows the noise floor of the method (~1.0). */
export async function create(filename: string): Promise<ContenderInstance> {
  const raw = openRaw(filename);
  return {
    ops: raw.ops,
    close: async () => raw.close(),
  };
}

/**
 * Raw better-sqlite3 behind an async API: each operation's value handed back in a resolved promise
 * and awaited, as a pool's callers await it. The floor of any pool with a promise-returning API,
 * otel-sqlite-pool's uninstrumented shortcuts included (the pool's bookkeeping is the rest).
 */
export async function createAsync(filename: string): Promise<ContenderInstance> {
  const raw = openRaw(filename);
  const { point, range, insert } = raw.ops;
  return {
    ops: {
      sync: false,
      point: (id) => Promise.resolve(point(id)),
      range: (start) => Promise.resolve(range(start)),
      insert: (n) => Promise.resolve(insert(n)),
    },
    close: async () => raw.close(),
  };
}
