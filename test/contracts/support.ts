import Database from 'better-sqlite3';
import { DatabaseManager, type DatabaseManagerOptions } from '../../src/index.js';
import { tempDbPath, track } from '../helpers/temp-db.js';

/**
 * Pools for the contract tests: a real file in a temp directory with a `users` table, closed
 * after the test. Every contract is tested in both modes where the mode could matter.
 */
export const MODES = ['thread', 'worker'] as const;
export type Mode = (typeof MODES)[number];

export function seededFile(rows = 3): string {
  const filename = tempDbPath();
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO users (name) VALUES (?)');
  for (let i = 1; i <= rows; i++) insert.run(`user${i}`);
  db.close();
  return filename;
}

export function pool(options: Partial<DatabaseManagerOptions> = {}): DatabaseManager {
  return track(new DatabaseManager({ filename: options.filename ?? seededFile(), ...options }));
}

/** Settles after the event loop has turned once (I/O and timers included), with no wait of its own. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
