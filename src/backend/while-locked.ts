import type { Database } from 'better-sqlite3';
import { untilAborted } from '../abortable.js';
import { now } from '../clock.js';
import { lockRetryDelay, pause } from '../lock-wait.js';
import { failureKind } from '../sqlite-errors.js';

/**
 * Runs one step of opening an in-thread connection (the pragmas, `onConnect`) and runs it again
 * while it fails with `SQLITE_BUSY`, pausing asynchronously, until `deadline`. A connection opened
 * with a busy timeout of 0 meets a lock held elsewhere (another process creating the file or its
 * schema, a writer) at once; waiting for it belongs to the pool, as it does for statements, not
 * to the first caller's `initialize()`. A step that left a transaction open when it met the lock
 * is rolled back before it runs again, so each attempt starts clean: an `onConnect` runs on every
 * new connection anyway, and must already be safe to run more than once.
 */
export async function whileLocked(db: Database, step: (db: Database) => unknown, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      await untilAborted(step(db), signal);
      return;
    } catch (error) {
      if (failureKind(error) !== 'busy' || now() >= deadline || signal?.aborted === true) throw error;
      if (db.inTransaction) db.exec('ROLLBACK');
      await pause(Math.min(lockRetryDelay(attempt), Math.max(0, deadline - now())));
    }
  }
}
