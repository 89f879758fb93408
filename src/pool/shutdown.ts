import { now } from '../clock.js';
import { PoolClosedError } from '../errors.js';
import type { Maintenance } from './maintenance.js';
import type { PoolCore } from './pool-core.js';

/** A lease that `close()` had to end because it was not released in time. */
export interface ForcedLease {
  connectionId: string;
  heldMs: number;
  /** Where it was acquired; recorded while leak detection is on. */
  acquireStack: string | undefined;
}

export interface CloseReport {
  forcedLeases: ForcedLease[];
}

/**
 * `close()`, after the manager stopped lending: rejects every caller in line, stops monitoring,
 * closes idle connections, waits up to `timeoutMs` for leases to come back, then ends the rest
 * (their statements are stopped where the mode can: worker processes are killed), and waits
 * until every connection, open and child process is gone.
 */
export async function shutDown(core: PoolCore, maintenance: Maintenance, timeoutMs: number): Promise<CloseReport> {
  core.lending = false;
  const closed = new PoolClosedError('The pool was closed while waiting for a connection');
  for (const waiter of core.waiters.drain()) waiter.fail(closed);
  core.gate.drain(new PoolClosedError('The pool was closed while waiting for the write lock'));
  await maintenance.stop();
  for (const entry of core.set.inState('idle')) core.retirement.retire(entry, 'shutdown');
  if (core.set.leasedCount > 0) {
    await new Promise<void>((resolve) => {
      core.drained = resolve;
      core.housekeeper.schedule('close-deadline', timeoutMs, resolve, { keepAlive: true });
    });
  }
  core.drained = undefined;
  const forcedLeases: ForcedLease[] = [];
  for (const entry of core.set.inState('leased')) {
    const forced = { connectionId: entry.id, heldMs: now() - entry.leasedAt, acquireStack: entry.acquireStack };
    forcedLeases.push(forced);
    core.options.logger.warn(
      `close(): ${forced.connectionId} was still leased after ${timeoutMs} ms (held ${Math.round(forced.heldMs)} ms); closing it. ` +
        (forced.acquireStack === undefined ? 'Set leakDetectionThresholdMs to record where it was acquired.' : `Acquired at:\n${forced.acquireStack}`),
    );
    core.retirement.retire(entry, 'shutdown', true);
  }
  // Probes and resets still under way: their connections go too.
  for (const entry of core.set.inState('reserved')) core.retirement.retire(entry, 'shutdown', true);
  // Opens under way close as they arrive (the pool no longer lends); then every close finishes.
  await core.opener.settled();
  await core.retirement.settled();
  core.housekeeper.stop();
  return { forcedLeases };
}
