/**
 * Messages between the pool and a connection's child process. Every request carries an id; the
 * child answers each with exactly one response, in order. Values cross by structured clone
 * (`serialization: 'advanced'`), which keeps BigInt and null and turns Buffers into Uint8Arrays
 * (`restoreBuffers` turns them back).
 */

/** What the child needs to open its connection (functions cannot cross; a module specifier can). */
export interface ChildOptions {
  readonly filename: string;
  readonly readonly: boolean;
  readonly fileMustExist: boolean;
  readonly busyTimeoutMs: number;
  readonly pragmas: Readonly<Record<string, string | number | boolean>>;
  readonly statementCacheSize: number;
  readonly connectModule: string | undefined;
}

export type ChildRequest =
  | {
      readonly op: 'run' | 'get' | 'all';
      readonly sql: string;
      readonly params: unknown;
      readonly modes: number;
      /** Run it only if it only reads: a statement that writes is prepared, not run (its answer says `readonly: false`). */
      readonly readsOnly?: boolean;
    }
  | { readonly op: 'exec'; readonly sql: string }
  | { readonly op: 'iterate-open'; readonly sql: string; readonly params: unknown; readonly modes: number; readonly batchSize: number }
  | { readonly op: 'iterate-next'; readonly cursor: number; readonly batchSize: number }
  | { readonly op: 'iterate-close'; readonly cursor: number }
  | { readonly op: 'probe'; readonly query: string; readonly timeoutMs: number; readonly deep: boolean }
  /** Closes every cursor and rolls back an open transaction: the connection is lent again next. */
  | { readonly op: 'reset' };

export type IdentifiedRequest = ChildRequest & { readonly id: number };

/** An error as it crosses the process boundary: enough to rebuild the error the caller expects. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code: string | undefined;
  /** Probe failures: whether the connection must be replaced at once. */
  readonly fatal: boolean | undefined;
  /** Configuration errors (a pragma SQLite did not take, an onConnect module that failed to load). */
  readonly option?: string;
  readonly value?: unknown;
  readonly expectation?: string;
}

interface ResponseState {
  readonly id: number;
  readonly open: boolean;
  readonly inTransaction: boolean;
  /**
   * For statements: whether it only reads, once it was prepared (also when running it failed).
   * The pool lets later reads of the same text skip the write gate.
   */
  readonly readonly: boolean | undefined;
}

export type ChildResponse = ResponseState & ({ readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: SerializedError });

/** The first message a child sends: its connection is open, or could not be opened. */
export type ChildReady = { readonly ready: true } | { readonly ready: false; readonly error: SerializedError };

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
