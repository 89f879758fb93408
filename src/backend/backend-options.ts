import type { ResolvedOnConnect } from '../config/on-connect.js';
import type { ReadonlyTexts } from './readonly-texts.js';

/** What a backend needs to open one connection. */
export interface BackendOptions {
  readonly label: string;
  readonly filename: string;
  readonly readonly: boolean;
  readonly fileMustExist: boolean;
  readonly pragmas: Readonly<Record<string, string | number | boolean>>;
  readonly statementCacheSize: number;
  /**
   * How long opening waits for a lock held elsewhere: in-thread asynchronously, in worker mode as
   * the child's own busy timeout (the child may block; the caller's event loop never does).
   */
  readonly busyTimeoutMs: number;
  /** Run with each new connection: a function (in-thread), or a module each process imports. */
  readonly onConnect: ResolvedOnConnect | undefined;
  /** Abandons the open (the pool is closing, `connectTimeoutMs` ran out): its handle is closed, its process killed. */
  readonly signal?: AbortSignal;
  /** Worker mode: which texts only read, as the pool's connections found out (one per pool, shared). */
  readonly readonlyTexts: ReadonlyTexts;
}
