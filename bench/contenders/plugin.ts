/**
 * Raw better-sqlite3 with the third-party `opentelemetry-plugin-better-sqlite3`
 * (`BetterSqlite3Instrumentation`): a CLIENT span per statement call, no pool. Same statements
 * as `raw` (prepared once, `insertTx.immediate()` for the insert), on a real BasicTracerProvider
 * with a BatchSpanProcessor and the AsyncLocalStorage context manager (lib/telemetry.ts).
 *
 * How the plugin patches: it is an `InstrumentationBase` (its own @opentelemetry/instrumentation
 * 0.208) with a module definition for `better-sqlite3` ^7–^12, applied by require-in-the-middle
 * on `require('better-sqlite3')`. It wraps `Database.prototype.exec`, `.prepare` and `.pragma`;
 * `prepare()` then wraps `run`, `get` and `all` on each statement it returns (on the instance).
 * The worker runs as ESM under tsx and has already imported better-sqlite3 (the raw baseline),
 * and an ESM `import` never goes through require-in-the-middle. So the plugin is registered first
 * and better-sqlite3 is then loaded with `createRequire()`: require-in-the-middle patches on the
 * first `require` it sees, even of a module already in Node's cache. `create()` checks that the
 * prototype really is wrapped and fails loudly otherwise.
 *
 * The prototype is shared with the raw baseline in the same process, but the baseline prepared
 * its statements before the patch (the worker opens it first), so its statements are not wrapped;
 * better-sqlite3's `transaction()` runs BEGIN/COMMIT through the native handle, not through the
 * patched `prepare`. The telemetry check proves both: any span of the baseline would break the
 * exact one-span-per-operation count.
 *
 * Spans per operation: `get: SELECT` (point), `all: SELECT` (range), `run: INSERT` (insert);
 * the plugin names a span `<method>: <first word of the SQL>`. Its `prepare: ...` and `PRAGMA`
 * spans come from setup, before any count.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { BetterSqlite3Instrumentation } from 'opentelemetry-plugin-better-sqlite3';
import { snapshot, startTracing } from '../lib/telemetry.js';
import { openRaw } from './raw.js';
import type { ContenderInstance, WorkloadName } from './types.js';

const SPAN_OF: Partial<Record<WorkloadName, string>> = {
  point: 'get: SELECT',
  range: 'all: SELECT',
  insert: 'run: INSERT',
};

export async function create(filename: string): Promise<ContenderInstance> {
  const tracing = startTracing();
  const instrumentation = new BetterSqlite3Instrumentation();
  registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: tracing.provider });
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  // shimmer marks what it wrapped with __wrapped; unwrapped, this contender would measure raw.
  if (!(Database.prototype.prepare as { __wrapped?: boolean }).__wrapped) {
    throw new Error('opentelemetry-plugin-better-sqlite3 did not patch better-sqlite3 (Database.prototype.prepare is not wrapped)');
  }

  // The same connection and statements as raw, made through the patched module.
  const raw = openRaw(filename, Database);
  return {
    ops: raw.ops,
    snapshot: () => snapshot(tracing),
    expect: (workload: WorkloadName) => {
      const name = SPAN_OF[workload];
      return { spans: name === undefined ? {} : { [name]: [1] } };
    },
    async close() {
      raw.close();
      instrumentation.disable();
      await tracing.provider.shutdown();
    },
  };
}
