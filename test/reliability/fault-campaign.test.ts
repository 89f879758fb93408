/**
 * The fault campaign (issue 7): seeded, randomized rounds in which many simulated callers use the
 * pool while a fault injector deletes, replaces and restores the database file, holds an
 * exclusive lock, closes pooled connections behind the pool's back and makes probes slow. Each
 * round then checks, after the faults stop, that the pool kept its promises; see
 * support/campaign.ts for the invariants and how they are measured.
 *
 * A seed fixes the round's regime (seed % 5: quiet, files, locks, crowd, workers), its pool
 * configuration and what every caller and the injector do; time is real, so the exact
 * interleaving varies between runs, and the assertions are invariants that hold for any of them.
 * A failure prints its seed, the violations and the round's configuration and counts.
 *
 *   FAULT_CAMPAIGN_SEED=123 npx vitest run test/reliability/fault-campaign.test.ts   one seed again
 *   FAULT_CAMPAIGN_SEED=random ...                                                   a fresh seed
 *   FAULT_CAMPAIGN_MS=600000 ...          ten minutes of rounds (default 12 s, as CI runs it: 8 rounds;
 *                                         a workers round lasts twice as long)
 *   FAULT_CAMPAIGN_ITERATIONS=50 ...      fifty rounds
 *   FAULT_CAMPAIGN_ROUND_MS=5000 ...      longer rounds (default 1500 ms of faults each)
 *   FAULT_CAMPAIGN_FIRST_SEED=1000 ...    other seeds than CI's (rounds use FIRST_SEED, +1, +2...)
 *   FAULT_CAMPAIGN_VERBOSE=1 ...          print every round's configuration and counts
 */
import { describe, expect, test } from 'vitest';
import { roundConfig, runRound } from './support/campaign.js';

const ROUND_MS = positiveInt('FAULT_CAMPAIGN_ROUND_MS', 1500);
const BUDGET_MS = positiveInt('FAULT_CAMPAIGN_MS', 12_000);
const ROUNDS = positiveInt('FAULT_CAMPAIGN_ITERATIONS', Math.max(1, Math.round(BUDGET_MS / ROUND_MS)));
/** CI runs the same seeds every time; a failure names its seed. */
const FIRST_SEED = positiveInt('FAULT_CAMPAIGN_FIRST_SEED', 0x7a11_0001);

function seeds(): number[] {
  const given = process.env.FAULT_CAMPAIGN_SEED;
  if (given === 'random') return [Math.floor(Math.random() * 2 ** 31)];
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`FAULT_CAMPAIGN_SEED must be a non-negative integer or "random", not ${given}`);
    return [seed];
  }
  return Array.from({ length: ROUNDS }, (_, i) => FIRST_SEED + i);
}

function positiveInt(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not ${value}`);
  return n;
}

describe('fault campaign', () => {
  for (const seed of seeds()) {
    test(`seed ${seed}`, { timeout: ROUND_MS + 30_000 }, async () => {
      const config = roundConfig(seed, ROUND_MS);
      const report = await runRound(config);
      const summary = {
        counts: report.counts,
        faults: report.faults,
        lifetime: report.lifetime,
      };
      if (process.env.FAULT_CAMPAIGN_VERBOSE) console.log(`seed ${seed}`, JSON.stringify({ config, ...summary }));
      if (report.violations.length > 0) {
        const rerun = `FAULT_CAMPAIGN_SEED=${seed} npx vitest run test/reliability/fault-campaign.test.ts`;
        expect.fail(
          `fault campaign seed ${seed} found ${report.violations.length} violation(s) (rerun: ${rerun})\n` +
            `${report.violations.map((v) => `  - ${v}`).join('\n')}\n` +
            `config: ${JSON.stringify(config)}\n${JSON.stringify(summary)}`,
        );
      }
      // The round must have exercised the pool, or it proves nothing. (A lone caller may spend much
      // of a round in acquire timeouts while failed opens back off: a few dozen calls is enough.)
      expect(report.counts.acquireCalls).toBeGreaterThan(20);
      expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
    });
  }
});
