import { catchRejection } from './rejections.js';

/**
 * Anything with these four methods: `console`, pino, winston, bunyan. The pool logs every probe
 * at debug level and failures, replacements and leaks at warn level.
 */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const ignore = (): void => {};

/** The default: silent. */
export const silentLogger: Logger = Object.freeze({ debug: ignore, info: ignore, warn: ignore, error: ignore });

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * The user's logger behind a guard: a logger that throws (a full disk, a closed transport), or an
 * async one whose promise rejects, must never break the query, probe or timer that was only
 * reporting, nor end the process with an unhandled rejection.
 */
export function guardLogger(logger: Logger): Logger {
  if (logger === silentLogger) return logger;
  const guarded = {} as Logger;
  for (const level of LEVELS) {
    guarded[level] = (message, ...details) => {
      try {
        catchRejection(logger[level](message, ...details), ignore);
      } catch {
        // The pool keeps going; there is nowhere left to report a broken logger.
      }
    };
  }
  return Object.freeze(guarded);
}
