/**
 * The database file and its "generations". Destructive faults never copy a file: they rename the
 * live set (the database, -wal, -shm and -journal together, so a WAL is never paired with another
 * database) away, rename one back, put a fresh file in place, or unlink the set. Every database
 * file carries its generation number in a `meta` table, written once when the file is created, so
 * a write can learn which file it went to (inside its own transaction), and at the end every file
 * on disk can be checked against exactly the writes that committed to it.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

const SUFFIXES = ['', '-wal', '-shm', '-journal'] as const;

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (gen INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS writes (id TEXT PRIMARY KEY, gen INTEGER NOT NULL, kind TEXT NOT NULL);
`;

/** Inserts a row and returns the generation of the file it went to. */
export const INSERT_RETURNING_GEN = 'INSERT INTO writes (id, gen, kind) SELECT ?, gen, ? FROM meta RETURNING gen';
export const INSERT_SELF_TAGGED = 'INSERT INTO writes (id, gen, kind) SELECT ?, gen, ? FROM meta';

export interface FileContents {
  readonly file: string;
  readonly gen: number | undefined;
  readonly expectedGen: number | undefined;
  readonly rows: readonly { id: string; gen: number; kind: string }[];
}

export class DatabaseFiles {
  readonly dir: string;
  readonly path: string;
  readonly journalMode: 'WAL' | 'DELETE';
  /** Generations whose file was unlinked: the writes they held are lost with them, legitimately. */
  readonly destroyed = new Set<number>();
  /** Sets renamed away and not (yet) restored, by base path. */
  readonly away: string[] = [];
  readonly #genByInode = new Map<string, number>();
  #nextGen = 1;
  #serial = 0;

  constructor(dir: string, journalMode: 'WAL' | 'DELETE') {
    this.dir = dir;
    this.path = path.join(dir, 'campaign.db');
    this.journalMode = journalMode;
  }

  get generations(): number {
    return this.#nextGen - 1;
  }

  /**
   * The pool's `onConnect`: creates the schema, and stamps a new file with the next generation.
   * It runs synchronously right after better-sqlite3 opened `path`, so the inode at `path` is the
   * file this connection opened.
   */
  prepare(db: Database.Database): void {
    db.exec(SCHEMA);
    const gen = this.#nextGen;
    const { changes } = db.prepare('INSERT INTO meta (gen) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM meta)').run(gen);
    if (changes === 1) {
      this.#nextGen++;
      this.#register(this.path, gen);
    }
  }

  /** The generation of the file at `file` (by inode), if the test knows it. */
  genAt(file: string): number | undefined {
    const key = inodeKey(file);
    return key === undefined ? undefined : this.#genByInode.get(key);
  }

  exists(): boolean {
    return fs.existsSync(this.path);
  }

  /** Renames the live set away (what an operator's `mv app.db app.db.bak` does). */
  moveAway(): string | undefined {
    if (!this.exists()) return undefined;
    const base = path.join(this.dir, `away-${++this.#serial}.db`);
    moveSet(this.path, base);
    this.away.push(base);
    return base;
  }

  /** Renames an away set back into place, after moving whatever is there away. */
  restore(index: number): string | undefined {
    const base = this.away[index];
    if (base === undefined) return undefined;
    this.away.splice(index, 1);
    this.moveAway();
    moveSet(base, this.path);
    return base;
  }

  /** A new database (its own generation, empty) renamed into place; the old set is moved away. */
  replace(): number {
    const fresh = path.join(this.dir, `fresh-${++this.#serial}.db`);
    const db = new Database(fresh);
    try {
      db.pragma(`journal_mode = ${this.journalMode}`);
      db.exec(SCHEMA);
      db.prepare('INSERT INTO meta (gen) VALUES (?)').run(this.#nextGen);
    } finally {
      db.close();
    }
    const gen = this.#nextGen++;
    this.#register(fresh, gen);
    this.moveAway();
    moveSet(fresh, this.path);
    return gen;
  }

  /** Unlinks the live set; its generation's writes are lost. */
  destroy(): number | undefined {
    if (!this.exists()) return undefined;
    const gen = this.genAt(this.path);
    if (gen !== undefined) this.destroyed.add(gen);
    for (const suffix of SUFFIXES) fs.rmSync(this.path + suffix, { force: true });
    return gen;
  }

  /** Every database file left in the directory, with its generation and rows (read after the pool closed). */
  readAll(): FileContents[] {
    const files = fs.readdirSync(this.dir).filter((name) => name.endsWith('.db')).map((name) => path.join(this.dir, name));
    return files.map((file) => {
      const expectedGen = this.genAt(file);
      const db = new Database(file, { fileMustExist: true });
      try {
        const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
        const metaRows = tables.has('meta') ? (db.prepare('SELECT gen FROM meta').all() as { gen: number }[]) : [];
        if (metaRows.length > 1) throw new Error(`${file} has ${metaRows.length} meta rows`);
        const rows = tables.has('writes') ? (db.prepare('SELECT id, gen, kind FROM writes').all() as FileContents['rows'][number][]) : [];
        const integrity = db.pragma('quick_check', { simple: true });
        if (integrity !== 'ok') throw new Error(`${file} failed quick_check: ${String(integrity)}`);
        return { file, gen: metaRows[0]?.gen, expectedGen, rows };
      } finally {
        db.close();
      }
    });
  }

  #register(file: string, gen: number): void {
    const key = inodeKey(file);
    if (key !== undefined) this.#genByInode.set(key, gen);
  }
}

function moveSet(from: string, to: string): void {
  for (const suffix of SUFFIXES) {
    if (fs.existsSync(from + suffix)) fs.renameSync(from + suffix, to + suffix);
    else fs.rmSync(to + suffix, { force: true });
  }
}

function inodeKey(file: string): string | undefined {
  const stats = fs.statSync(file, { throwIfNoEntry: false });
  return stats === undefined ? undefined : `${stats.dev}:${stats.ino}`;
}
