/**
 * The per-fault alert table of otel-collector/README.md ("Alerts under each fault"), read so
 * that the stack test asserts exactly what the README says: per scenario, which alerts fire while
 * the fault is held and which when it is cleared, each with its bound in real time, and within
 * what time after clearing every alert of the pool has resolved.
 */
import { join } from 'node:path';
import { STACK_DIR, readText } from './stack-files.js';
import { parseDuration } from './scaled-time.js';

export const FAULT_TABLE_START = '<!-- fault-table:start -->';
export const FAULT_TABLE_END = '<!-- fault-table:end -->';

export interface ExpectedFiring {
  readonly alert: string;
  /** Real-time bound, seconds. */
  readonly withinSeconds: number;
}

export interface FaultTableRow {
  readonly scenario: string;
  readonly duringFault: readonly ExpectedFiring[];
  readonly whenCleared: readonly ExpectedFiring[];
  /** Real-time bound for every alert of the pool to be gone after clearing; undefined: nothing to resolve. */
  readonly resolvedWithinSeconds: number | undefined;
}

function firings(cell: string): ExpectedFiring[] {
  if (/^\s*none\s*$/.test(cell)) return [];
  const out = [...cell.matchAll(/`(SqlitePool\w+)` in (\d+(?:\.\d+)?[smh])/g)].map((m) => ({ alert: m[1]!, withinSeconds: parseDuration(m[2]!) }));
  if (out.length === 0) throw new Error(`cannot read alerts from table cell "${cell}"`);
  return out;
}

export function readFaultTable(readme: string = readText(join(STACK_DIR, 'README.md'))): FaultTableRow[] {
  const start = readme.indexOf(FAULT_TABLE_START);
  const end = readme.indexOf(FAULT_TABLE_END);
  if (start < 0 || end < start) throw new Error(`otel-collector/README.md has no ${FAULT_TABLE_START} ... ${FAULT_TABLE_END}`);
  const lines = readme.slice(start + FAULT_TABLE_START.length, end).split('\n').filter((l) => l.startsWith('|'));
  return lines.slice(2).map((line) => {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 5) throw new Error(`fault table row needs 5 cells: ${line}`);
    const scenario = /^`([\w-]+)`$/.exec(cells[0]!)?.[1];
    if (scenario === undefined) throw new Error(`fault table row without a scenario: ${line}`);
    const resolved = /^in (\d+(?:\.\d+)?[smh])$/.exec(cells[4]!);
    return {
      scenario,
      duringFault: firings(cells[2]!),
      whenCleared: firings(cells[3]!),
      resolvedWithinSeconds: resolved === null ? undefined : parseDuration(resolved[1]!),
    };
  });
}
