import { telemetryRegistry, type PoolTelemetry } from './pool-telemetry.js';

/**
 * Which instrumentation receives the pools' reports: one at a time, the one enabled last. The one
 * it displaces is told through a method under this global symbol, so an instance of another copy
 * of the package (ESM and CJS, two versions) is told the same way, and runs its own copy's code.
 * Nothing new is stored on the registry: older copies only set and clear `active`, and still can.
 * An older copy's instance has no such method; it is displaced all the same (pools stop reporting
 * to it), it just is not told.
 */
export const DISPLACED = Symbol.for('otel-sqlite-pool.telemetry-displaced.v1');

export interface Displaceable {
  /** Another instrumentation (`by`, if known) became the active one in this one's place. */
  [DISPLACED]?(by: PoolTelemetry | undefined): void;
}

/** Makes `telemetry` the active one; tells the one it displaces. */
export function activate(telemetry: PoolTelemetry): void {
  const previous = telemetryRegistry.active;
  telemetryRegistry.active = telemetry;
  if (previous === undefined || previous === telemetry) return;
  try {
    (previous as Displaceable)[DISPLACED]?.(telemetry);
  } catch {
    // Another copy's code failed to take note: the switch is made all the same.
  }
}

/** Clears the active slot if `telemetry` holds it; another's place is left alone. */
export function deactivate(telemetry: PoolTelemetry): void {
  if (telemetryRegistry.active === telemetry) telemetryRegistry.active = undefined;
}

/** Process-wide, like the registry, so two copies of the package never number two instances alike. */
const INSTANCE_KEY = Symbol.for('otel-sqlite-pool.instrumentation-instances.v1');
const instances = ((globalThis as { [INSTANCE_KEY]?: { last: number } })[INSTANCE_KEY] ??= { last: 0 });

/** The number of the next instrumentation created in this process (from 1): it names it in warnings. */
export function nextInstanceNumber(): number {
  return ++instances.last;
}

/** How a warning names an instrumentation: its own label, else what an older copy's instance says. */
export function describeTelemetry(telemetry: PoolTelemetry | undefined): string {
  if (telemetry === undefined) return 'another instrumentation (since disabled)';
  // Ours (this copy's or another's) names itself: SqlitePoolInstrumentation#toString().
  if (typeof (telemetry as Displaceable)[DISPLACED] === 'function') return (telemetry as unknown as { toString(): string }).toString();
  const { instrumentationName, instrumentationVersion } = telemetry as { instrumentationName?: unknown; instrumentationVersion?: unknown };
  const name = typeof instrumentationName === 'string' ? `${instrumentationName} ${String(instrumentationVersion)}` : 'otel-sqlite-pool';
  return `an instrumentation of an older copy of the package (${name})`;
}
