/**
 * `node --import otel-sqlite-pool/register app`: real child processes with the register entry
 * (from source, through tsx), exporting over OTLP/HTTP to a loopback receiver. Each one proves
 * what the app sees: spans flushed when the script ends by itself, on SIGTERM with the signal's
 * own exit status, and the app's own SIGTERM handler left in charge of the exit.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, startChild, stopAll, tempDir } from '../demo/demo-process.js';
import { SRC } from '../helpers/run-script.js';
import { otlpEnvironment, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

const REGISTER = join(REPO_ROOT, 'src', 'register.ts');
/** The scripts live in temp dirs, out of reach of the repository's node_modules. */
const API = pathToFileURL(createRequire(import.meta.url).resolve('@opentelemetry/api')).href;
const receivers: OtlpReceiver[] = [];
afterEach(async () => {
  await stopAll();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** The test's environment without OTEL_ variables or NODE_OPTIONS, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(OTEL_|NODE_OPTIONS$|VITEST)/.test(key)) env[key] = value;
  return { ...env, ...extra };
}

/** A pool on a temp file that runs one statement, then `after` (JavaScript). */
function app(after: string): string {
  const file = join(tempDir('otel-sqlite-pool-register-'), 'app.mts');
  writeFileSync(
    file,
    `import { DatabaseManager } from ${JSON.stringify(SRC)};
const db = new DatabaseManager({ filename: ${JSON.stringify(join(tempDir('otel-sqlite-pool-register-db-'), 'app.db'))}, poolSize: 1 });
await db.initialize();
await db.run('CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)');
await db.get('SELECT name FROM users WHERE id = ?', [1]);
await db.close();
${after}
`,
  );
  return file;
}

async function run(source: string, env: Record<string, string> = {}) {
  const receiver = await startOtlpReceiver();
  receivers.push(receiver);
  const child = startChild('app', process.execPath, ['--import', 'tsx', '--import', REGISTER, app(source)], {
    env: cleanEnv({ ...otlpEnvironment(receiver, 'register-test'), ...env }),
  });
  return { child, receiver };
}

const statementSpans = (receiver: OtlpReceiver) => receiver.spans.filter((s) => s.scope === 'otel-sqlite-pool' && s.name === 'SELECT users');

describe('otel-sqlite-pool/register', () => {
  it('exports the pool spans over OTLP when the script ends by itself, and exits 0', async () => {
    const { child, receiver } = await run("console.log('DONE');");
    const exit = await child.waitForExit(30_000);
    expect(exit, child.tail()).toEqual({ code: 0, signal: null });
    expect(statementSpans(receiver)).toEqual([{ name: 'SELECT users', kind: 3, scope: 'otel-sqlite-pool', serviceName: 'register-test' }]);
    expect(receiver.spans.map((s) => s.name)).toContain('sqlite_pool.connect');
  }, 40_000);

  it('on SIGTERM in an app without a handler: flushes, then ends by the signal as it would have without the entry', async () => {
    const { child, receiver } = await run("console.log('READY'); setInterval(() => {}, 1000);");
    await child.waitForLine(/^READY$/m, 30_000);
    child.signal('SIGTERM');
    const exit = await child.waitForExit(15_000);
    expect(exit, child.tail()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(statementSpans(receiver)).toHaveLength(1);
  }, 40_000);

  it("leaves the exit to an app that handles SIGTERM itself, and flushes what was recorded", async () => {
    const { child, receiver } = await run(
      "process.on('SIGTERM', () => { console.log('APP SIGTERM'); setTimeout(() => process.exit(7), 200); }); console.log('READY'); setInterval(() => {}, 1000);",
    );
    await child.waitForLine(/^READY$/m, 30_000);
    child.signal('SIGTERM');
    const exit = await child.waitForExit(15_000);
    expect(exit, child.tail()).toEqual({ code: 7, signal: null });
    expect(statementSpans(receiver)).toHaveLength(1);
  }, 40_000);

  it('starts no SDK in a worker-mode connection process (its pool, in the parent, reports for it)', async () => {
    const probe = `import { trace } from ${JSON.stringify(API)}; console.log('RECORDING=' + trace.getTracer('probe').startSpan('probe').isRecording());`;
    const worker = await run(probe, { OTEL_SQLITE_POOL_WORKER: '{}' });
    expect((await worker.child.waitForExit(30_000)).code, worker.child.tail()).toBe(0);
    expect(worker.child.stdout).toContain('RECORDING=false');
    expect(worker.receiver.spans).toEqual([]);

    const app = await run(probe);
    expect((await app.child.waitForExit(30_000)).code, app.child.tail()).toBe(0);
    expect(app.child.stdout).toContain('RECORDING=true');
  }, 60_000);
});
