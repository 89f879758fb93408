/**
 * @matteo.collina/sqlite-pool: `db.query(sql\`...\`)` per statement (its pool, maxSize 4), `db.tx()`
 * for the transaction (it runs BEGIN, deferred). It prepares each statement on every call (no
 * statement cache) and exposes no acquire/release of its own, so it sits out that workload.
 */
import { INSERT_EMAIL, INSERT_NAME, RANGE_ROWS } from '../lib/db.js';
import { POOL_SIZE, type ContenderInstance, type Operations } from './types.js';

export async function create(filename: string): Promise<ContenderInstance> {
  const { createConnectionPool, sql } = await import('@matteo.collina/sqlite-pool');
  const db = createConnectionPool(filename, {}, { maxSize: POOL_SIZE });
  await db.query(sql`SELECT 1`);
  const ops: Operations = {
    sync: false,
    point: (id) => db.query(sql`SELECT * FROM users WHERE id = ${id}`),
    range: (start) =>
      db.query(sql`SELECT * FROM users WHERE id >= ${start} AND id < ${start + RANGE_ROWS}`),
    insert: (n) =>
      db.tx((tx) =>
        tx.query(
          sql`INSERT INTO users (name, email, score) VALUES (${INSERT_NAME}, ${INSERT_EMAIL}, ${n})`,
        ),
      ),
  };
  return { ops, close: () => db.dispose() };
}
