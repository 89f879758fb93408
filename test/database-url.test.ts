import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigurationError, DatabaseManager, filenameFromDatabaseUrl } from '../src/index.js';
import { captureError } from './helpers/capture-error.js';
import { tempDir, track } from './helpers/temp-db.js';

describe('filenameFromDatabaseUrl', () => {
  test.each([
    ['sqlite:///relative.db', 'relative.db'],
    ['sqlite:///data/app.db', 'data/app.db'],
    ['sqlite:////abs.db', '/abs.db'],
    ['sqlite:////var/lib/app.db', '/var/lib/app.db'],
    ['SQLite:///upper.db', 'upper.db'],
    ['sqlite:///with%20space.db', 'with space.db'],
    ['plain.db', 'plain.db'],
    ['./dir/plain.db', './dir/plain.db'],
    ['/abs/plain.db', '/abs/plain.db'],
    ['C:\\data\\app.db', 'C:\\data\\app.db'],
    [':memory:', ':memory:'],
    ['sqlite:///:memory:', ':memory:'],
    ['sqlite://', ':memory:'],
  ])('%s -> %s', (url, filename) => {
    expect(filenameFromDatabaseUrl(url)).toBe(filename);
  });

  test.each([
    ['postgres://localhost/app', /expected the sqlite scheme, not "postgres:"/],
    ['mysql://u:p@host/db', /expected the sqlite scheme, not "mysql:"/],
    ['file:app.db', /expected the sqlite scheme, not "file:"/],
    ['sqlite://localhost/app.db', /has no host/],
    ['sqlite://app.db', /has no host/],
    ['sqlite:app.db', /three slashes/],
    ['sqlite:///app.db?mode=ro', /query strings/],
    ['sqlite:///app.db#frag', /query strings/],
    ['sqlite:///100%.db', /percent-encoded/],
    ['', /expected a sqlite/],
    ['   ', /expected a sqlite/],
  ])('%j is refused with a ConfigurationError that names the option and the value', (url, expectation) => {
    const error = captureError(() => filenameFromDatabaseUrl(url)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.code).toBe('SQLITE_POOL_INVALID_CONFIG');
    expect(error.option).toBe('databaseUrl');
    expect(error.message).toContain(`Invalid databaseUrl: ${JSON.stringify(url)}`);
    expect(error.message).toMatch(expectation);
  });

  test('a non-string is refused, naming the option given', () => {
    const error = captureError(() => filenameFromDatabaseUrl(42 as never, 'DATABASE_URL')) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe('Invalid DATABASE_URL: 42; expected a sqlite:/// URL, a file path or ":memory:"');
  });
});

describe('DatabaseManager with URL forms, on real files', () => {
  test('sqlite:////absolute.db opens that file', async () => {
    const file = path.join(tempDir(), 'abs.db');
    const db = track(new DatabaseManager({ databaseUrl: `sqlite:///${file}`, poolSize: 2 }));
    expect(file.startsWith('/')).toBe(true); // so the URL above has four slashes
    await db.run('CREATE TABLE t (x)');
    await db.close();
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(file, { fileMustExist: true });
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual(['t']);
    raw.close();
  });

  test('sqlite:///relative.db opens a file relative to the working directory', async () => {
    const dir = tempDir();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const db = track(new DatabaseManager({ databaseUrl: 'sqlite:///relative.db', poolSize: 2 }));
      await db.initialize();
      expect(db.options.filename).toBe('relative.db');
      const file = (await db.get<{ file: string }>("SELECT file FROM pragma_database_list WHERE name = 'main'"))?.file;
      expect(file).toBe(path.join(dir, 'relative.db'));
      await db.close();
    } finally {
      process.chdir(cwd);
    }
  });

  test(':memory: works with a pool of one connection', async () => {
    const db = track(new DatabaseManager({ databaseUrl: ':memory:', poolSize: 1, healthCheckConfig: { minHealthyConnections: 1 } }));
    await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
  });
});
