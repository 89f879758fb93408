import type { ConnectionBackend } from './backend.js';
import type { BackendOptions } from './backend-options.js';
import { ProcessBackend } from './process-backend.js';
import { ThreadBackend } from './thread-backend.js';

/** Where a pool's connections run: the one place (with the option check) that knows the modes. */
export type BackendKind = 'thread' | 'worker';

/** Opens one connection of the given kind. */
export function openBackend(kind: BackendKind, options: BackendOptions): Promise<ConnectionBackend> {
  return kind === 'worker' ? ProcessBackend.open(options) : ThreadBackend.open(options);
}
