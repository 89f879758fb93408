import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Database } from 'better-sqlite3';
import { ConfigurationError, errorMessage } from '../errors.js';

/** A function, or the specifier of a module whose default export (or `onConnect` export) is one. */
export type OnConnect = ((db: Database) => unknown) | string | URL;

export type ConnectFunction = (db: Database) => unknown;

/** `onConnect`, validated: the function itself, or an import specifier any process can load. */
export interface ResolvedOnConnect {
  readonly fn: ConnectFunction | undefined;
  /** A `file:` URL (paths are made absolute against the working directory) or a package name. */
  readonly module: string | undefined;
}

export function resolveOnConnect(value: unknown): ResolvedOnConnect | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return { fn: value as ConnectFunction, module: undefined };
  if (value instanceof URL) return { fn: undefined, module: value.href };
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigurationError('onConnect', value, 'expected a function, or a module specifier (a path, a file: URL or a package name)');
  }
  return { fn: undefined, module: importSpecifier(value) };
}

/** A path relative to the working directory means the same file in a child process too. */
function importSpecifier(specifier: string): string {
  if (/^(file|data|node):/.test(specifier)) return specifier;
  if (isAbsolute(specifier) || specifier.startsWith('./') || specifier.startsWith('../')) return pathToFileURL(resolve(specifier)).href;
  return packageSpecifier(specifier);
}

/**
 * A package name is the application's: resolved from the working directory, not from where this
 * package happens to be installed (a pnpm store, a linked checkout), where `import()` would look.
 * A package `require` cannot resolve (one that exports only to `import`) keeps its name, and is
 * imported as before.
 */
function packageSpecifier(name: string): string {
  try {
    return pathToFileURL(createRequire(resolve('package.json')).resolve(name)).href;
  } catch {
    return name;
  }
}

/** Imports an `onConnect` module (once per process) and returns its function. */
export async function loadConnectFunction(module: string): Promise<ConnectFunction> {
  let exports: Record<string, unknown>;
  try {
    exports = (await import(module)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError('onConnect', module, `could not be imported: ${errorMessage(error)}`, { cause: error });
  }
  const fn = typeof exports.default === 'function' ? exports.default : exports.onConnect;
  if (typeof fn !== 'function') throw new ConfigurationError('onConnect', module, 'expected the module to export a function (default export, or one named onConnect)');
  return fn as ConnectFunction;
}
