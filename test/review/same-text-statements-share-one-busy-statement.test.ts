import Database from 'better-sqlite3';
import { expect, test } from 'vitest';
import { pool, seededFile } from '../contracts/support.js';

/**
 * Review finding: every lease statement of one SQL text (and modes) runs on the connection's one
 * cached better-sqlite3 Statement. While an iterator of that text is open, any other statement
 * object of the same text on the lease (a second `lease.prepare(sql)`, `lease.get(sql)`) throws
 * "This statement is busy executing a query". better-sqlite3 gives each prepare() its own
 * Statement, so nested iteration (a tree walk: for each row, run the same query for its children)
 * works there and breaks here.
 *
 * README: "`lease.prepare()` ... return lease statements: better-sqlite3's Statement API";
 * "Statement modes ... and bind() stay with the statement object that set them".
 */
const TREE = 'SELECT id FROM nodes WHERE parent IS ? ORDER BY id';

function treeFile(): string {
  const filename = seededFile();
  const raw = new Database(filename);
  raw.exec('CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent INTEGER); INSERT INTO nodes VALUES (1, NULL), (2, 1), (3, 1), (4, 2);');
  raw.close();
  return filename;
}

function walk(prepare: (sql: string) => { iterate(...params: unknown[]): IterableIterator<unknown> }, parent: number | null, out: number[]): void {
  for (const row of prepare(TREE).iterate(parent) as IterableIterator<{ id: number }>) {
    out.push(row.id);
    walk(prepare, row.id, out);
  }
}

test('raw better-sqlite3 walks the tree with nested iterations of one query text', () => {
  const raw = new Database(treeFile());
  const ids: number[] = [];
  walk((sql) => raw.prepare(sql), null, ids);
  raw.close();
  expect(ids).toEqual([1, 2, 4, 3]);
});

test('a lease walks the same tree the same way', async () => {
  const db = pool({ filename: treeFile(), poolSize: 1 });
  await using lease = await db.getConnection();
  const ids: number[] = [];
  walk((sql) => lease.prepare(sql), null, ids); // actual: TypeError: This statement is busy executing a query
  expect(ids).toEqual([1, 2, 4, 3]);
});

test("lease.get() of a text whose iterator is open on the lease", async () => {
  const db = pool({ poolSize: 1 });
  await using lease = await db.getConnection();
  const iterator = lease.prepare('SELECT id FROM users ORDER BY id').iterate();
  iterator.next();
  await expect(lease.get('SELECT id FROM users ORDER BY id')).resolves.toEqual({ id: 1 }); // actual: rejects, statement busy
  iterator.return?.();
});
