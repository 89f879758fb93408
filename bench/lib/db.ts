/**
 * The benchmark's database: a fresh file in a temp dir, WAL mode, and a 10,000-row `users` table.
 * Every contender runs the same SQL text with the same parameters, drawn from the same seeded
 * sequence, so "the same work" means the same statements on the same rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

export const ROWS = 10_000;
export const RANGE_ROWS = 100;

export const SQL = {
  point: 'SELECT * FROM users WHERE id = ?',
  range: 'SELECT * FROM users WHERE id >= ? AND id < ?',
  insert: 'INSERT INTO users (name, email, score) VALUES (?, ?, ?)',
} as const;

/** Values bound by the insert workload; fixed so no contender pays for string building. */
export const INSERT_NAME = 'bench user';
export const INSERT_EMAIL = 'bench.user@example.com';

/**
 * `/dev/shm` when it exists: on this machine an fsync on the ext4 disk costs ~230 µs, which would
 * bury every pool's cost in the insert workload (SQLite's default `synchronous=FULL` under WAL
 * syncs the WAL on every commit). tmpfs makes the commit pure CPU. `--dir` overrides it.
 */
export function defaultBaseDir(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/** Creates `<baseDir>/otel-sqlite-pool-bench-XXXX/bench.db` and returns its path. */
export function createFixture(baseDir: string): { filename: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(baseDir, 'otel-sqlite-pool-bench-'));
  const filename = path.join(dir, 'bench.db');
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, score REAL NOT NULL)',
  );
  const insert = db.prepare('INSERT INTO users (id, name, email, score) VALUES (?, ?, ?, ?)');
  const rng = prng(42);
  db.transaction(() => {
    for (let id = 1; id <= ROWS; id++) {
      insert.run(id, `user ${id}`, `user${id}@example.com`, Math.round(rng() * 100_000) / 100);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { filename, dir };
}

export function removeFixture(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ARG_MASK = 0xffff;

/** 65,536 precomputed arguments per workload, indexed with `i & ARG_MASK`. */
export function argumentTables(): { ids: Int32Array; rangeStarts: Int32Array } {
  const rng = prng(7);
  const ids = new Int32Array(ARG_MASK + 1);
  const rangeStarts = new Int32Array(ARG_MASK + 1);
  for (let i = 0; i <= ARG_MASK; i++) {
    ids[i] = 1 + Math.floor(rng() * ROWS);
    rangeStarts[i] = 1 + Math.floor(rng() * (ROWS - RANGE_ROWS + 1));
  }
  return { ids, rangeStarts };
}
