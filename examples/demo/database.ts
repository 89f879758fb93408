/**
 * The demo's database: one `users` table, created and seeded before the pool opens (the pool runs
 * with `fileMustExist`, so a deleted file stays deleted instead of being silently re-created empty).
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface User {
  id: number;
  name: string;
  email: string;
  created_at: string;
}

/** Where `POST /faults/delete-db` moves the file, so that `restore-db` can bring it back (ends in .db: git-ignored). */
export function deletedPathOf(filename: string): string {
  return `${filename}.deleted.db`;
}

export interface PreparedDatabase {
  users: number;
  created: boolean;
  /** Set when a file left aside by a delete-db fault of an earlier run was put back. */
  restoredFrom: string | undefined;
}

/** Creates the schema and seeds `seedUsers` users if the table has fewer. */
export function prepareDatabase(filename: string, seedUsers: number): PreparedDatabase {
  mkdirSync(dirname(filename), { recursive: true });
  let restoredFrom: string | undefined;
  const aside = deletedPathOf(filename);
  if (!existsSync(filename) && existsSync(aside)) {
    renameSync(aside, filename);
    restoredFrom = aside;
  }
  const created = !existsSync(filename);
  const db = new Database(filename);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        email      TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      )`);
    const count = (db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    if (count < seedUsers) {
      const insert = db.prepare('INSERT OR IGNORE INTO users (id, name, email) VALUES (?, ?, ?)');
      db.transaction(() => {
        for (let id = 1; id <= seedUsers; id++) insert.run(id, `User ${id}`, `user${id}@example.test`);
      })();
    }
    const users = (db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    return { users, created, restoredFrom };
  } finally {
    db.close();
  }
}
