/**
 * What the pack test reuses between runs and Node versions, under node_modules/.cache (never
 * committed, gone with a fresh `npm ci`):
 *
 * - the tarball, keyed by a hash of everything that goes into it, so the Node 22 and 24 runs of
 *   CI test the very tarball the Node 20 run built, without building it again;
 * - better-sqlite3's native binary for this Node version, as the prebuild tarball that
 *   better-sqlite3's own installer (prebuild-install) picks up through its documented
 *   `npm_config_better_sqlite3_local_prebuilds` setting. It is the binary the repository's
 *   node_modules already holds for this Node (npm ci, or `.ci/other-node`'s rebuild), so installing
 *   into a fresh project compiles nothing and downloads nothing but npm packages.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../demo/demo-process.js';

export const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'otel-sqlite-pool-pack');

/** Files whose content decides the tarball's (package.json's `files`, the manifest and the build config). */
function packInputs(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  for (const dir of ['src', 'docs']) walk(join(REPO_ROOT, dir));
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'CHANGELOG.md']) {
    if (existsSync(join(REPO_ROOT, file))) files.push(join(REPO_ROOT, file));
  }
  return files.sort();
}

function inputsHash(): string {
  const hash = createHash('sha256');
  for (const file of packInputs()) hash.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** The tarball `npm pack` makes of the repository as it is now (its prepack step builds dist/). */
export function packedTarball(): { path: string; cached: boolean } {
  mkdirSync(CACHE_DIR, { recursive: true });
  const path = join(CACHE_DIR, `otel-sqlite-pool-${inputsHash()}.tgz`);
  if (existsSync(path)) return { path, cached: true };
  const scratch = join(CACHE_DIR, `pack-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  const [info] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  ) as { filename: string }[];
  renameSync(join(scratch, info!.filename), path);
  rmSync(scratch, { recursive: true, force: true });
  // Tarballs of earlier states are of no further use.
  for (const entry of readdirSync(CACHE_DIR)) {
    if (/^otel-sqlite-pool-.*\.tgz$/.test(entry) && join(CACHE_DIR, entry) !== path) rmSync(join(CACHE_DIR, entry), { force: true });
  }
  return { path, cached: false };
}

/** A directory with better-sqlite3's prebuild for this Node, made from the repository's own build. */
export function localPrebuilds(): string {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string };
  const dir = join(CACHE_DIR, 'prebuilds');
  const name = `better-sqlite3-v${manifest.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const target = join(dir, name);
  const binary = join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(binary).mtimeMs) return dir;
  const stage = join(CACHE_DIR, `prebuild-${process.pid}`);
  mkdirSync(join(stage, 'build', 'Release'), { recursive: true });
  copyFileSync(binary, join(stage, 'build', 'Release', 'better_sqlite3.node'));
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['czf', `${target}.tmp`, '-C', stage, 'build/Release/better_sqlite3.node']);
  renameSync(`${target}.tmp`, target);
  rmSync(stage, { recursive: true, force: true });
  return dir;
}
