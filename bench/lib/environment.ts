/** What the report says about the machine, the runtime and the code measured. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Environment {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly packages: Record<string, string>;
  readonly commit: string;
}

export const REPORTED_PACKAGES = [
  'better-sqlite3',
  'generic-pool',
  'knex',
  '@matteo.collina/sqlite-pool',
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/instrumentation',
  '@opentelemetry/instrumentation-generic-pool',
  '@opentelemetry/instrumentation-knex',
  'tsx',
] as const;

function cpuModel(): string {
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const match = /^model name\s*:\s*(.+)$/m.exec(info);
    if (match?.[1]) return match[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function packageVersion(root: string, name: string): string {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return json.version ?? '?';
  } catch {
    return 'not installed';
  }
}

function gitCommit(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head} (src/ has uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

export function describeEnvironment(root: string): Environment {
  const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  const packages: Record<string, string> = { [own.name]: own.version };
  for (const name of REPORTED_PACKAGES) packages[name] = packageVersion(root, name);
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    packages,
    commit: gitCommit(root),
  };
}

/** The file system type of the mount holding `dir` (from /proc/mounts), e.g. "tmpfs" or "ext4". */
export function fileSystemOf(dir: string): string {
  try {
    const real = fs.realpathSync(dir);
    let best = '';
    let type = 'unknown';
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mount, fsType] = line.split(' ');
      if (!mount || !fsType) continue;
      if ((real === mount || real.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length > best.length) {
        best = mount;
        type = fsType;
      }
    }
    return type;
  } catch {
    return 'unknown';
  }
}
