/**
 * Loads the OpenTelemetry SDK packages that `otel-sqlite-pool/setup` and `otel-sqlite-pool/register`
 * build on. They are optional peer dependencies (the core needs only `@opentelemetry/api`), so
 * they are loaded here, on first use, and a missing one is reported with the exact install line.
 *
 * `require()` rather than `import()`: it is synchronous, so the register entry starts the SDK
 * before the app's first line runs, with no top-level await (which would stop `require()` of
 * this ES module). Both packages ship CommonJS only (no exports map), so `import` would load
 * the very same files: there is one copy of the SDK whichever way it is reached.
 */
import { createRequire } from 'node:module';
import type * as ExporterPrometheus from '@opentelemetry/exporter-prometheus';
import type * as SdkNode from '@opentelemetry/sdk-node';
import { MissingSdkError } from './errors.js';

const require = createRequire(import.meta.url);

/** The SDK modules an entry can ask for, by the name it uses for them. */
export interface SdkModules {
  sdkNode: typeof SdkNode;
  prometheus: typeof ExporterPrometheus;
}

const PACKAGE_NAMES: Record<keyof SdkModules, string> = {
  sdkNode: '@opentelemetry/sdk-node',
  prometheus: '@opentelemetry/exporter-prometheus',
};

/** The ranges this package declares for its optional peers, read from its own package.json. */
function declaredRange(packageName: string): string {
  // src/setup/ and dist/setup/ are both two levels below the package root.
  const manifest = require('../../package.json') as { peerDependencies?: Record<string, string> };
  const range = manifest.peerDependencies?.[packageName];
  if (range === undefined) throw new Error(`otel-sqlite-pool's package.json declares no peer dependency ${packageName}`);
  return range;
}

/** `npm install @opentelemetry/sdk-node@^0.223.0 ...` for the given packages, with the declared ranges. */
export function installCommand(packageNames: readonly string[]): string {
  return `npm install ${packageNames.map((name) => `${name}@${declaredRange(name)}`).join(' ')}`;
}

function isInstalled(packageName: string): boolean {
  try {
    require.resolve(packageName);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'MODULE_NOT_FOUND') return false;
    throw error;
  }
}

/**
 * Loads the SDK modules `entry` needs, or throws {@link MissingSdkError} naming every missing
 * package and the one `npm install` line that adds them. A package that is installed but fails
 * to load throws its own error, unchanged.
 */
export function loadSdk<K extends keyof SdkModules>(entry: string, keys: readonly K[]): Pick<SdkModules, K> {
  const missing = keys.map((key) => PACKAGE_NAMES[key]).filter((name) => !isInstalled(name));
  if (missing.length > 0) throw new MissingSdkError(entry, missing, installCommand(missing));
  const modules: Partial<SdkModules> = {};
  for (const key of keys) modules[key] = require(PACKAGE_NAMES[key]) as SdkModules[K];
  return modules as Pick<SdkModules, K>;
}
