import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { MODES, pool, seededFile } from './support.js';

/**
 * README: "`lease.prepare()` ... return lease statements: better-sqlite3's Statement API over the
 * connection's cached statement". better-sqlite3 gives each `prepare()` a Statement of its own,
 * so two statements of one text run side by side: a tree walk that runs, for each row, the same
 * query for its children, or a `get()` of the text an open iterator runs. The cache keeps one
 * statement per text and modes, so while that one iterates, other uses get a fresh one.
 */
const TREE = 'SELECT id FROM nodes WHERE parent IS ? ORDER BY id';

function treeFile(): string {
  const filename = seededFile();
  const raw = new Database(filename);
  raw.exec('CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent INTEGER); INSERT INTO nodes VALUES (1, NULL), (2, 1), (3, 1), (4, 2);');
  raw.close();
  return filename;
}

type Prepare = (sql: string) => { iterate(...params: unknown[]): IterableIterator<unknown> };

function walk(prepare: Prepare, parent: number | null, out: number[]): number[] {
  for (const row of prepare(TREE).iterate(parent) as IterableIterator<{ id: number }>) {
    out.push(row.id);
    walk(prepare, row.id, out);
  }
  return out;
}

test('lease statements walk a tree with nested iterations of one text, as better-sqlite3 statements do', async () => {
  const filename = treeFile();
  const raw = new Database(filename);
  const expected = walk((sql) => raw.prepare(sql), null, []);
  raw.close();
  const db = pool({ filename, poolSize: 1 });
  await using lease = await db.getConnection();
  expect(walk((sql) => lease.prepare(sql), null, [])).toEqual(expected);
  expect(expected).toEqual([1, 2, 4, 3]);
});

test('a lease statement is busy while its own iterator is open, as a better-sqlite3 statement is', async () => {
  const db = pool({ poolSize: 1 });
  await using lease = await db.getConnection();
  const sql = 'SELECT id FROM users ORDER BY id';
  const iterating = lease.prepare(sql);
  const other = lease.prepare(sql);
  const iterator = iterating.iterate();
  iterator.next();
  expect(iterating.busy).toBe(true);
  expect(() => iterating.get()).toThrow(TypeError); // better-sqlite3: "This statement is busy executing a query"
  expect(other.busy).toBe(false);
  expect(other.get()).toEqual({ id: 1 });
  iterator.return?.();
  expect(iterating.busy).toBe(false);
  expect(iterating.get()).toEqual({ id: 1 });
});

describe.each(MODES)('%s mode', (mode) => {
  test('lease.get() of a text whose iterator is open on the lease', async () => {
    const db = pool({ mode, poolSize: 1 });
    await using lease = await db.getConnection();
    const sql = 'SELECT id FROM users ORDER BY id';
    // One row per round trip in worker mode, so the cursor stays open in the child.
    const iterator = lease.iterate(sql, undefined, { batchSize: 1 })[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ value: { id: 1 }, done: false });
    expect(await lease.get(sql)).toEqual({ id: 1 });
    expect(await lease.all(sql)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(await iterator.next()).toEqual({ value: { id: 2 }, done: false });
    await iterator.return?.();
  });

  test('nested lease.iterate() of one text walks the tree', async () => {
    const db = pool({ mode, filename: treeFile(), poolSize: 1 });
    await using lease = await db.getConnection();
    const ids: number[] = [];
    const visit = async (parent: number | null): Promise<void> => {
      for await (const row of lease.iterate<{ id: number }>(TREE, [parent], { batchSize: 1 })) {
        ids.push(row.id);
        await visit(row.id);
      }
    };
    await visit(null);
    expect(ids).toEqual([1, 2, 4, 3]);
  });
});
