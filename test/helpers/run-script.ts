import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from './temp-db.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `import ... from SRC` in a script reaches the package source. */
export const SRC = pathToFileURL(path.join(repo, 'src', 'index.ts')).href;

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs a TypeScript file with `node --import tsx` from the repository root. */
export function runTs(file: string, timeoutMs = 20_000): Promise<ScriptResult> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { cwd: repo, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({
        code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
        signal: failure?.signal ?? null,
        stdout,
        stderr,
        elapsedMs: performance.now() - started,
      });
    });
  });
}

/** Writes `source` to a temp .mts file and runs it. */
export function runScript(source: string, timeoutMs?: number): Promise<ScriptResult> {
  const file = path.join(tempDir(), 'script.mts');
  fs.writeFileSync(file, source);
  return runTs(file, timeoutMs);
}
