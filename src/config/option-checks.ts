import { ConfigurationError } from '../errors.js';

/**
 * Small checks shared by every options object: each names the option and the value it refused,
 * so a misconfiguration reads like "Invalid poolSize: 0; expected an integer from 1".
 */

export function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigurationError(option, value, 'expected true or false');
  return value;
}

export interface NumberRange {
  readonly min: number;
  /** Whether the minimum itself is refused (timeouts must be above 0). */
  readonly exclusiveMin?: boolean;
  readonly integer?: boolean;
  /** `Infinity` switches a limit off. */
  readonly allowInfinity?: boolean;
  /** The largest finite value accepted (SQLite's busy timeout is a 32-bit int). */
  readonly max?: number;
}

export function checkNumber(option: string, value: unknown, range: NumberRange): number {
  const kind = range.integer ? 'an integer' : 'a number';
  const bound = (range.exclusiveMin ? `above ${range.min}` : `from ${range.min}`) + (range.max === undefined ? '' : ` to ${range.max}`);
  const infinity = range.allowInfinity ? ' (or Infinity to switch it off)' : '';
  const expectation = `expected ${kind} ${bound}${infinity}`;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new ConfigurationError(option, value, expectation);
  }
  if (value === Infinity && range.allowInfinity) return value;
  if (!Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw new ConfigurationError(option, value, expectation);
  }
  if (value < range.min || (range.exclusiveMin && value === range.min) || (range.max !== undefined && value > range.max)) {
    throw new ConfigurationError(option, value, expectation);
  }
  return value;
}

export function checkNonEmptyString(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigurationError(option, value, 'expected a non-empty string');
  }
  return value;
}

export function checkPlainObject(option: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(option, value, 'expected an options object');
  }
  return value as Record<string, unknown>;
}

/** Refuses keys the options object does not know, suggesting the one that was probably meant. */
export function checkKnownKeys(
  where: string,
  options: Record<string, unknown>,
  known: readonly string[],
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const suggestion = closest(key, known);
    const option = where === '' ? key : `${where}.${key}`;
    throw new ConfigurationError(
      option,
      options[key],
      suggestion === undefined
        ? `unknown option (known: ${known.join(', ')})`
        : `unknown option; did you mean ${suggestion}?`,
    );
  }
}

function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
