import { expect, test } from 'vitest';
import { ReadonlyTexts } from '../../src/backend/readonly-texts.js';
import { pool } from '../contracts/support.js';

/**
 * Worker mode learns which statement texts only read from its child processes (the parent cannot
 * prepare them). What one connection learned is known to the pool's other connections before they
 * run the text, and a bounded memory forgets the least recently used text, never stops learning.
 */

test('a text one worker connection has run is known to the others before they run it', async () => {
  const db = pool({ mode: 'worker', poolSize: 2, healthCheckConfig: { minHealthyConnections: 2 } });
  await using first = await db.getConnection();
  await using second = await db.getConnection();
  const [ran, fresh] = [first.healthyConnection.backend, second.healthyConnection.backend];
  expect(fresh.readonlyOf('SELECT count(*) AS n FROM users', 0)).toBeUndefined();
  await first.get('SELECT count(*) AS n FROM users');
  await first.run("INSERT INTO users (name) VALUES ('x')");
  expect(ran.readonlyOf('SELECT count(*) AS n FROM users', 0)).toBe(true);
  expect(fresh.readonlyOf('SELECT count(*) AS n FROM users', 0)).toBe(true);
  // Modes shape the rows, not whether the statement writes.
  expect(fresh.readonlyOf('SELECT count(*) AS n FROM users', 8)).toBe(true);
  expect(fresh.readonlyOf("INSERT INTO users (name) VALUES ('x')", 0)).toBe(false);
});

test('a worker connection learns what a statement is even when running it fails', async () => {
  const db = pool({ mode: 'worker', poolSize: 1 });
  await using lease = await db.getConnection();
  await expect(lease.run('INSERT INTO users (id, name) VALUES (1, ?)', ['duplicate'])).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
  expect(lease.healthyConnection.backend.readonlyOf('INSERT INTO users (id, name) VALUES (1, ?)', 0)).toBe(false);
});

test('past its capacity it forgets the texts not used lately, and keeps learning', () => {
  const texts = new ReadonlyTexts(4); // two generations of two texts
  texts.learn('SELECT 1', true);
  texts.learn('DELETE FROM t', false); // the young generation is full: it becomes the old one
  expect(texts.get('SELECT 1')).toBe(true); // used: carried into the young generation
  texts.learn('SELECT 3', true); // full again: the old generation, with the unused DELETE, goes
  expect(texts.get('DELETE FROM t')).toBeUndefined();
  expect(texts.get('SELECT 1')).toBe(true);
  expect(texts.get('SELECT 3')).toBe(true);
  // A stream of one-off texts: the one used between them stays, memory stays bounded.
  for (let i = 0; i < 1000; i++) {
    texts.learn(`SELECT ${i} + 10`, true);
    expect(texts.get('SELECT 1')).toBe(true);
    expect(texts.size).toBeLessThanOrEqual(4);
  }
  expect(texts.get('SELECT 3')).toBeUndefined();
  expect(texts.get('SELECT 999 + 10')).toBe(true);
});
