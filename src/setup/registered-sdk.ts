/**
 * What `otel-sqlite-pool/register` does: start `@opentelemetry/sdk-node` from the environment with
 * the pool instrumentation, and shut it down (flushing spans and metrics) when the process ends.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { SqlitePoolInstrumentation } from '../telemetry/instrumentation.js';
import { loadSdk } from './sdk-modules.js';

/**
 * Set in the environment of worker-mode connection processes (src/worker/worker-connection.ts).
 * They inherit NODE_OPTIONS, and with it this entry; their pool, in the parent, reports for them,
 * so an SDK per worker would only duplicate exports (and collide on a Prometheus port).
 */
const WORKER_VARIABLE = 'OTEL_SQLITE_POOL_WORKER';
/** One SDK per process, even when two copies of the package (or both --import and --require) load this. */
const STARTED = Symbol.for('otel-sqlite-pool.register.v1');
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** The longest wait for the SDK to flush at exit (the OTLP exporters give up after 10 s themselves). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

export function startRegisteredSdk(): NodeSDK | undefined {
  if (process.env[WORKER_VARIABLE] !== undefined) return undefined;
  const slot = globalThis as { [STARTED]?: NodeSDK };
  if (slot[STARTED] !== undefined) return slot[STARTED];

  const { sdkNode } = loadSdk('otel-sqlite-pool/register', ['sdkNode']);
  // enabled: false, so that the SDK enables it once its providers are in place.
  const sdk = new sdkNode.NodeSDK({ instrumentations: [new SqlitePoolInstrumentation({ enabled: false })] });
  sdk.start();
  slot[STARTED] = sdk;

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => (stopping ??= bounded(sdk.shutdown()).catch(report));
  // The event loop emptied (a script that ends by itself): the batch processors' timers are
  // unref'ed and would never fire, so flush now; the flush keeps the process alive until done.
  process.once('beforeExit', () => void shutdown());
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      // Alone, this listener has taken the place of Node's default (exit on the signal): flush,
      // then let the signal do what it would have done. With listeners of the app's own, the app
      // decides when to exit; the flush still starts now, as the process is on its way out.
      const alone = process.listenerCount(signal) === 1;
      void shutdown().then(() => {
        if (!alone) return;
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
  return sdk;
}

function bounded(promise: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${SHUTDOWN_TIMEOUT_MS} ms`)), SHUTDOWN_TIMEOUT_MS).unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function report(error: unknown): void {
  process.stderr.write(`otel-sqlite-pool/register: the OpenTelemetry SDK did not shut down cleanly: ${error instanceof Error ? error.message : String(error)}\n`);
}
