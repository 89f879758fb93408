import type { Expectation, TelemetrySnapshot } from '../lib/telemetry.js';

export const WORKLOADS = ['point', 'range', 'insert', 'acquire', 'concurrent'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export const WORKLOAD_TITLES: Record<WorkloadName, string> = {
  point: 'Point read by primary key (one caller)',
  range: '100-row range read (one caller)',
  insert: 'Insert of one row inside a transaction (one caller)',
  acquire: 'Acquire plus release alone (one caller)',
  concurrent: 'Point read, 32 concurrent callers, pool of 4',
};

export const POOL_SIZE = 4;
export const CONCURRENT_CALLERS = 32;

/** The operations a contender offers. Pools return promises (or thenables); raw returns values. */
export interface Operations {
  /** True when every operation returns a plain value, so the loop does not await. */
  readonly sync: boolean;
  point(id: number): unknown;
  /** Rows with `start <= id < start + 100`. */
  range(start: number): unknown;
  /** One INSERT inside its own transaction; `n` is bound as the score. */
  insert(n: number): unknown;
  /** Borrow a connection and give it back, nothing else. */
  acquireRelease?(): Promise<unknown>;
}

export interface ContenderInstance {
  readonly ops: Operations;
  /** Present for contenders that emit telemetry: cumulative counts (flushes first). */
  snapshot?(): Promise<TelemetrySnapshot>;
  /** What one operation of a workload must emit; undefined when the contender has no telemetry. */
  expect?(workload: WorkloadName): Expectation;
  close(): Promise<void>;
}

export interface ContenderDefinition {
  readonly description: string;
  /** Workloads this contender takes part in. */
  readonly workloads: readonly WorkloadName[];
  /** Registers telemetry first, then loads the library under test, then opens it on `filename`. */
  create(filename: string): Promise<ContenderInstance>;
}
