/**
 * Messages between the pool (main thread) and a connection's worker. Every request carries an
 * id; the worker answers each with exactly one response. Values cross by structured clone, which
 * keeps BigInt and null and turns Buffers into Uint8Arrays (the pool turns them back).
 */

/** What the worker needs to open its connection (functions cannot cross threads). */
export interface WorkerOpenOptions {
  readonly filename: string;
  readonly readonly: boolean;
  readonly fileMustExist: boolean;
  readonly busyTimeoutMs: number;
  readonly pragmas: Readonly<Record<string, string | number | boolean>>;
  readonly statementCacheSize: number;
}

export type StatementRequest =
  | { readonly op: 'all' | 'get' | 'run'; readonly sql: string; readonly params: unknown; readonly safeIntegers: boolean }
  | { readonly op: 'exec'; readonly sql: string }
  | { readonly op: 'iterate-open'; readonly sql: string; readonly params: unknown; readonly safeIntegers: boolean; readonly batchSize: number }
  | { readonly op: 'iterate-next'; readonly cursor: number; readonly batchSize: number }
  | { readonly op: 'iterate-close'; readonly cursor: number }
  | { readonly op: 'probe'; readonly query: string; readonly timeoutMs: number }
  | { readonly op: 'state' };

export type WorkerRequest = StatementRequest & { readonly id: number };

/** An error as it crosses the thread boundary: enough to rebuild a `SqliteError` or a probe failure. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code: string | undefined;
  /** For probe failures: whether the connection must be replaced at once. */
  readonly fatal: boolean | undefined;
}

export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown; readonly durationMs: number; readonly open: boolean; readonly inTransaction: boolean }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError; readonly durationMs: number; readonly open: boolean; readonly inTransaction: boolean };

/** The first message a worker sends: its connection is open (or could not be opened). */
export type WorkerReady = { readonly ready: true } | { readonly ready: false; readonly error: SerializedError };

/** Structured clone turns Buffers into Uint8Arrays; better-sqlite3 takes and returns Buffers. */
export function restoreBuffers(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restoreBuffers(value[i]);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = restoreBuffers(record[key]);
  }
  return value;
}
