/**
 * Where a pool's connections run, and what each place allows. The option checks ask these
 * questions instead of naming modes; only the factory in `src/backend/` picks a backend by mode.
 */
export const MODES = {
  /** better-sqlite3 on the calling thread. */
  thread: { functionsReachConnections: true },
  /** Each connection in its own child process: only what can be serialized (or imported) gets there. */
  worker: { functionsReachConnections: false },
} as const;

export type Mode = keyof typeof MODES;

export function isMode(value: unknown): value is Mode {
  return typeof value === 'string' && Object.hasOwn(MODES, value);
}
