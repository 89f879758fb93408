import type { ConnectionBackend } from './backend.js';
import type { BackendOptions } from './backend-options.js';
import type { Mode } from '../config/modes.js';
import { ProcessBackend } from './process-backend.js';
import { ThreadBackend } from './thread-backend.js';

/** Opens one connection where the pool's mode says: the one place that picks a backend by mode. */
export function openBackend(kind: Mode, options: BackendOptions): Promise<ConnectionBackend> {
  return kind === 'worker' ? ProcessBackend.open(options) : ThreadBackend.open(options);
}
