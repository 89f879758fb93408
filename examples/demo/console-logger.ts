import type { Logger } from '../../src/index.js';
import type { LogLevel } from './options.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The pool's logs on stderr, with a time and a source, at `level` and above. */
export function consoleLogger(source: string, level: LogLevel): Logger {
  const at = (lineLevel: LogLevel) => (message: string, ...details: unknown[]): void => {
    if (ORDER[lineLevel] < ORDER[level]) return;
    const extra = details.length === 0 ? '' : ` ${details.map((d) => (d instanceof Error ? d.message : JSON.stringify(d))).join(' ')}`;
    process.stderr.write(`${new Date().toISOString()} [${source}] ${lineLevel.toUpperCase()} ${message}${extra}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
