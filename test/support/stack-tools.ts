/**
 * Prometheus's `promtool` and server, which the otel-collector/ stack tests run (Debian's
 * `prometheus` package has both). `npm test` installs them first where it can (see
 * ensure-stack-tools.ts); where it cannot, the stack tests are skipped, loudly, and counted in
 * the summary. Under CI (CI=true) they are never skipped: missing tools fail them.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const STACK_TOOLS = ['promtool', 'prometheus'] as const;
export type StackTool = (typeof STACK_TOOLS)[number];

/** Where `name` is on PATH (an executable file), if anywhere. */
export function findOnPath(name: string, path: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (path ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function missingStackTools(path: string | undefined = process.env.PATH): StackTool[] {
  return STACK_TOOLS.filter((tool) => findOnPath(tool, path) === undefined);
}

/** CI must run every stack test: a missing tool is a failure there, not a skip. */
export function stackToolsRequired(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

/**
 * True when the stack tests must be skipped here: a tool is missing and this is not CI. Under
 * CI the tests run and fail on the missing tool, as they should.
 */
export const SKIP_STACK_TESTS = missingStackTools().length > 0 && !stackToolsRequired();

/** The line printed by the pretest step and after the test summary when stack tests are skipped. */
export function skipNotice(missing: readonly string[], skipped?: number): string {
  const count = skipped === undefined ? 'The otel-collector/ stack tests' : `${skipped} stack test${skipped === 1 ? '' : 's'}`;
  return (
    `${count} ${skipped === undefined ? 'will be' : 'were'} SKIPPED: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not installed ` +
    `and could not be installed here. Install Debian's prometheus package (sudo apt-get install prometheus) and run npm test again.`
  );
}
