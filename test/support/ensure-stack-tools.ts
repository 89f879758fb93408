/**
 * `npm test`'s pretest step: makes sure promtool and prometheus are there for the stack tests.
 * Missing ones are installed from Debian's `prometheus` package when this machine has apt-get and
 * we are root; otherwise it says so loudly and the tests skip them (counted in the summary). Under
 * CI (CI=true) it exits 1 instead: CI never skips.
 *
 *   node --import tsx test/support/ensure-stack-tools.ts
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { findOnPath, missingStackTools, skipNotice, stackToolsRequired } from './stack-tools.js';

export interface EnsureResult {
  /** Tools still missing afterwards. */
  missing: string[];
  /** Whether an apt-get install was attempted. */
  attempted: boolean;
}

export function ensureStackTools(env: NodeJS.ProcessEnv = process.env, isRoot = process.getuid?.() === 0): EnsureResult {
  if (missingStackTools(env.PATH).length === 0) return { missing: [], attempted: false };
  const aptGet = findOnPath('apt-get', env.PATH);
  if (aptGet === undefined || !isRoot) return { missing: missingStackTools(env.PATH), attempted: false };
  process.stderr.write(`promtool or prometheus missing: installing Debian's prometheus package (${aptGet}) ...\n`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const options = { env: aptEnv, stdio: ['ignore', 'ignore', 'inherit'] as ('ignore' | 'inherit')[] };
  // The package lists may be absent or stale on a fresh machine: update them first.
  spawnSync(aptGet, ['update', '-qq'], options);
  spawnSync(aptGet, ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], options);
  return { missing: missingStackTools(env.PATH), attempted: true };
}

function banner(lines: string[]): string {
  const rule = '#'.repeat(100);
  return `\n${rule}\n${lines.map((line) => `# ${line}`).join('\n')}\n${rule}\n\n`;
}

function main(): void {
  const result = ensureStackTools();
  if (result.missing.length === 0) return;
  const why = result.attempted ? 'apt-get install prometheus did not provide them' : 'this machine has no apt-get, or we are not root';
  if (stackToolsRequired()) {
    process.stderr.write(banner([`CI=true and ${result.missing.join(' and ')} missing (${why}): CI never skips the stack tests.`]));
    process.exit(1);
  }
  process.stderr.write(banner([skipNotice(result.missing), `(${why})`]));
}

// Run as a script (the pretest step), not when a test imports ensureStackTools().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
