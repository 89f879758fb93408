import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { captureRejection } from '../helpers/capture-error.js';
import { tempDir } from '../helpers/temp-db.js';
import { MODES, pool } from './support.js';

/**
 * `onConnect` in both modes: a function cannot cross into a child process, a module can. The
 * module's default export (or its `onConnect` export) runs with each new connection's Database,
 * in whichever process the connection lives.
 */
function writeModule(source: string, name = 'on-connect.mjs'): string {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, source);
  return file;
}

const SETUP = `
export default function onConnect(db) {
  db.function('double_it', (x) => x * 2);
  db.exec('CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)');
  db.exec("INSERT OR IGNORE INTO settings VALUES ('pid', '" + process.pid + "')");
}
`;

describe.each(MODES)('%s mode', (mode) => {
  test('a module path: its default export sets up every connection (functions, schema)', async () => {
    const db = pool({ mode, poolSize: 2, onConnect: writeModule(SETUP) });
    expect(await db.get('SELECT double_it(21) AS v')).toEqual({ v: 42 });
    await using a = await db.getConnection();
    await using b = await db.getConnection();
    expect(a.connectionId).not.toBe(b.connectionId);
    for (const lease of [a, b]) expect(await lease.get('SELECT double_it(2) AS v')).toEqual({ v: 4 });
    // The function ran where the connection lives: this process in-thread, the connection's own process in worker mode.
    const { value } = (await a.get<{ value: string }>("SELECT value FROM settings WHERE key = 'pid'"))!;
    if (mode === 'thread') expect(Number(value)).toBe(process.pid);
    else expect(Number(value)).not.toBe(process.pid);
  });

  test('a file: URL and an async onConnect export work too', async () => {
    const file = writeModule('export async function onConnect(db) { await Promise.resolve(); db.function("seven", () => 7); }');
    const db = pool({ mode, onConnect: pathToFileURL(file) });
    expect(await db.get('SELECT seven() AS v')).toEqual({ v: 7 });
  });

  test('a module that cannot be imported, or exports no function, fails initialize() with ConfigurationError naming onConnect', async () => {
    const missing = pool({ mode, onConnect: path.join(tempDir(), 'nope.mjs') });
    const error = await captureRejection(missing.initialize());
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'onConnect' });
    expect((error as Error).message).toMatch(/could not be imported/);
    const empty = pool({ mode, onConnect: writeModule('export const answer = 42;', 'empty.mjs') });
    expect(await captureRejection(empty.initialize())).toMatchObject({ option: 'onConnect', expectation: expect.stringMatching(/export a function/) });
    expect(empty.getConnectionStatsSync().poolSize).toBe(0);
  });
});

// The name is resolved in the pool's process, for both modes: a worker imports the file it names.
test("a package name resolves from the application's working directory, not from where the pool is installed", async () => {
  const app = tempDir();
  const pkg = path.join(app, 'node_modules', 'connect-setup');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'connect-setup', version: '1.0.0', main: 'index.mjs' }));
  fs.writeFileSync(path.join(pkg, 'index.mjs'), 'export default function onConnect(db) { db.function("eleven", () => 11); }\n');
  const cwd = process.cwd();
  process.chdir(app);
  try {
    const db = pool({ onConnect: 'connect-setup' });
    expect(await db.get('SELECT eleven() AS v')).toEqual({ v: 11 });
  } finally {
    process.chdir(cwd);
  }
});

test('an in-thread onConnect that sets a busy timeout is refused: it would block the event loop on every lock', async () => {
  const db = pool({ onConnect: (raw) => raw.pragma('busy_timeout = 5000') });
  const error = await captureRejection(db.initialize());
  expect(error).toBeInstanceOf(ConfigurationError);
  expect(error).toMatchObject({ option: 'onConnect', value: 'busy_timeout = 5000' });
  expect(db.getConnectionStatsSync().poolSize).toBe(0);
});
