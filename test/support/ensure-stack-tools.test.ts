/**
 * The pretest step that installs promtool/prometheus: with a stand-in apt-get on a PATH of its
 * own (real processes, nothing installed on the machine), and as the script npm runs, whose exit
 * code says whether `npm test` may go on (skipping the stack tests) or, under CI, must stop.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, startChild, stopAll, tempDir } from '../demo/demo-process.js';
import { ensureStackTools } from './ensure-stack-tools.js';

afterEach(stopAll);

/** A bin directory with an apt-get that logs its arguments and, if `provides`, creates the two tools on install. */
function fakeApt(provides: boolean): { bin: string; log: string } {
  const bin = tempDir('otel-sqlite-pool-fake-apt-');
  const log = join(bin, 'apt.log');
  const tools = provides ? 'for t in promtool prometheus; do printf "#!/bin/sh\\nexit 0\\n" > "$BIN/$t"; /bin/chmod +x "$BIN/$t"; done' : ':';
  writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\necho "$@" >> "$LOG"\nif [ "$1" = install ]; then ${tools}; fi\n`);
  chmodSync(join(bin, 'apt-get'), 0o755);
  return { bin, log };
}

describe('ensureStackTools()', () => {
  it('installs Debian prometheus with apt-get (after an update) when root and the tools are missing', () => {
    const { bin, log } = fakeApt(true);
    const result = ensureStackTools({ PATH: bin, LOG: log, BIN: bin }, true);
    expect(result).toEqual({ missing: [], attempted: true });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['update -qq', 'install -y -qq --no-install-recommends prometheus']);
  });

  it('does not try without root, and reports what is still missing', () => {
    const { bin, log } = fakeApt(true);
    expect(ensureStackTools({ PATH: bin, LOG: log, BIN: bin }, false)).toEqual({ missing: ['promtool', 'prometheus'], attempted: false });
  });

  it('reports the tools still missing when the install did not provide them', () => {
    const { bin, log } = fakeApt(false);
    expect(ensureStackTools({ PATH: bin, LOG: log, BIN: bin }, true)).toEqual({ missing: ['promtool', 'prometheus'], attempted: true });
  });
});

describe('the pretest script', () => {
  const script = join(REPO_ROOT, 'test', 'support', 'ensure-stack-tools.ts');
  const run = async (env: Record<string, string>): Promise<number | null> => {
    const child = startChild('ensure-stack-tools', process.execPath, ['--import', 'tsx', script], { env });
    return (await child.waitForExit(20_000)).code;
  };

  it('lets npm test go on (exit 0) when the tools cannot be had, and stops it (exit 1) under CI', async () => {
    const empty = tempDir('otel-sqlite-pool-no-tools-');
    expect(await run({ PATH: empty })).toBe(0);
    expect(await run({ PATH: empty, CI: 'true' })).toBe(1);
  }, 30_000);

  it('exits 0 at once when the tools are there', async () => {
    const { bin, log } = fakeApt(true);
    ensureStackTools({ PATH: bin, LOG: log, BIN: bin }, true);
    expect(await run({ PATH: bin, CI: 'true' })).toBe(0);
  }, 30_000);
});
