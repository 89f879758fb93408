/**
 * The demo service under each of its faults, against a real Prometheus with the shipped alert
 * rules, in scaled time (scaled-time.ts: every duration of the pool's defaults, of the rules and
 * of Prometheus times SCALE). One demo process per scenario (fault-scenarios.ts), all at once,
 * each its own pool for Prometheus. Per scenario the test records which alerts fired, when
 * (from Prometheus's ALERTS series), and that all resolved after the fault was cleared, and it
 * asserts exactly the table in otel-collector/README.md. It also evaluates every dashboard query
 * for the pool on a fresh start, during the fault and after recovery (dashboard-check.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheusRuleFile } from '../../otel-collector/generator/prometheus-rules.js';
import { poolAlertRules } from '../../otel-collector/generator/alert-rules.js';
import { pollUntil, post, startDemo, stopAll, type Demo } from '../demo/demo-process.js';
import { evaluateDashboard, type EvaluatedQuery } from './dashboard-check.js';
import { readFaultTable, type ExpectedFiring, type FaultTableRow } from './fault-table.js';
import { SCENARIOS, scaled, type Scenario } from './fault-scenarios.js';
import { PrometheusServer } from './prometheus-server.js';
import { EVALUATION_SECONDS, SCALE, SCRAPE_SECONDS, SLACK_SECONDS } from './scaled-time.js';

interface Firing {
  alert: string;
  /** Unix seconds of the first and last evaluation that found it firing. */
  first: number;
  last: number;
}

interface ScenarioResult {
  scenario: Scenario;
  /** Set when the scenario could not run to its end. */
  error?: unknown;
  startedAt: number;
  faultAt: number;
  clearedAt: number | undefined;
  firing: Firing[];
  pending: string[];
  dashboard: { fresh: EvaluatedQuery[]; fault: EvaluatedQuery[]; recovered: EvaluatedQuery[] };
}

const now = (): number => Date.now() / 1000;
const realSeconds = (testSeconds: number): number => Math.round(testSeconds / SCALE);
const table = readFaultTable();
const rowOf = (id: string): FaultTableRow => {
  const row = table.find((r) => r.scenario === id);
  if (row === undefined) throw new Error(`otel-collector/README.md's fault table has no row for ${id}`);
  return row;
};

async function alertsOf(prometheus: PrometheusServer, pool: string): Promise<string[]> {
  return (await prometheus.alerts()).filter((a) => a.labels['db_client_connection_pool_name'] === pool).map((a) => `${a.labels['alertname']} ${a.state}`);
}

/** Lets `seconds` of scaled time pass while watching Prometheus (the demo must stay up). */
async function observe(prometheus: PrometheusServer, demo: Demo, seconds: number): Promise<void> {
  const until = now() + seconds;
  await pollUntil(
    `${seconds.toFixed(1)} s of the scenario have passed`,
    async () => {
      if (!demo.child.running) throw new Error(`the demo exited\n${demo.child.tail()}`);
      await prometheus.alerts();
      return now() >= until ? true : undefined;
    },
    { timeoutMs: seconds * 1000 + 10_000, intervalMs: 250 },
  );
}

async function firingsOf(prometheus: PrometheusServer, pool: string, start: number, state: 'firing' | 'pending'): Promise<Firing[]> {
  const series = await prometheus.queryRange(`ALERTS{db_client_connection_pool_name="${pool}", alertstate="${state}"}`, start, now(), EVALUATION_SECONDS);
  return series.map((s) => ({
    alert: s.metric['alertname'] ?? '',
    first: Math.min(...s.values.map((v) => v[0])),
    last: Math.max(...s.values.map((v) => v[0])),
  }));
}

async function runScenario(scenario: Scenario, demo: Demo, prometheus: PrometheusServer): Promise<ScenarioResult> {
  const result: ScenarioResult = { scenario, startedAt: now(), faultAt: now(), clearedAt: undefined, firing: [], pending: [], dashboard: { fresh: [], fault: [], recovered: [] } };
  try {
    await drive(result, demo, prometheus);
  } catch (error) {
    result.error = error;
  }
  // What Prometheus saw, also when the scenario failed (the failure then says what did fire).
  result.firing = await firingsOf(prometheus, scenario.id, result.startedAt, 'firing');
  result.pending = (await firingsOf(prometheus, scenario.id, result.startedAt, 'pending')).map((f) => f.alert);
  return result;
}

async function drive(result: ScenarioResult, demo: Demo, prometheus: PrometheusServer): Promise<void> {
  const { scenario } = result;
  const pool = scenario.id;
  // A fresh start: the pool's series scraped eight times, so that the dashboard (evaluated a
  // second back) has the four scrapes of its shortest rate window.
  await pollUntil(
    `Prometheus has scraped pool ${pool} eight times`,
    async () => {
      const r = await prometheus.query(`count_over_time(db_client_connection_max{db_client_connection_pool_name="${pool}"}[${Math.round(9 * SCRAPE_SECONDS * 1000)}ms])`);
      return r.length > 0 && Number(r[0]!.value[1]) >= 8 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  result.startedAt = now();
  result.dashboard.fresh = await evaluateDashboard(prometheus, pool);

  result.faultAt = now();
  if (scenario.inject !== undefined) {
    const injected = await post(`${demo.baseUrl}${scenario.inject}`);
    if (injected.status !== 200) throw new Error(`${scenario.inject} answered ${injected.status}: ${JSON.stringify(injected.body)}`);
  }
  if (scenario.firstRequest !== undefined) await post(`${demo.baseUrl}${scenario.firstRequest.path}`, scenario.firstRequest.body);
  await observe(prometheus, demo, scaled(scenario.holdSeconds));
  result.dashboard.fault = await evaluateDashboard(prometheus, pool);
  result.dashboard.recovered = result.dashboard.fault;
  if (scenario.clear !== undefined) {
    const clearedAt = now();
    result.clearedAt = clearedAt;
    const cleared = await post(`${demo.baseUrl}${scenario.clear}`);
    if (cleared.status !== 200) throw new Error(`${scenario.clear} answered ${cleared.status}: ${JSON.stringify(cleared.body)}`);
    // Whatever the clearing fires shows within a scrape and an evaluation; then wait until no
    // alert of the pool is left, pending or firing.
    const settle = 3 * (SCRAPE_SECONDS + EVALUATION_SECONDS);
    let left: string[] = [];
    await pollUntil(
      `every alert of pool ${pool} has resolved after clearing`,
      async () => {
        left = await alertsOf(prometheus, pool);
        return now() - clearedAt >= settle && left.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; still active: ${left.join(', ')}`);
    });
    result.dashboard.recovered = await evaluateDashboard(prometheus, pool);
  }
}

function describeFirings(result: ScenarioResult): string {
  return result.firing
    .map((f) => {
      const since = f.first < (result.clearedAt ?? Infinity) ? `fault +${realSeconds(f.first - result.faultAt)}s` : `clear +${realSeconds(f.first - result.clearedAt!)}s`;
      const resolved = result.clearedAt === undefined ? '' : `, last firing clear +${realSeconds(f.last - result.clearedAt)}s`;
      return `${f.alert} (${since}${resolved})`;
    })
    .join('; ');
}

describe('alerts and dashboard under each demo fault: a real Prometheus with the shipped rules, in scaled time', () => {
  let prometheus: PrometheusServer;
  const results = new Map<string, ScenarioResult>();

  beforeAll(async () => {
    const demos = await Promise.all(SCENARIOS.map((s) => startDemo({ name: `demo-${s.id}`, env: s.env, readyTimeoutMs: 60_000 })));
    prometheus = await PrometheusServer.start({
      targets: SCENARIOS.map((s, i) => ({ job: s.id, address: new URL(demos[i]!.metricsUrl).host, poolName: s.id })),
      rules: prometheusRuleFile(SCALE),
      scrapeIntervalSeconds: SCRAPE_SECONDS,
      evaluationIntervalSeconds: EVALUATION_SECONDS,
    });
    const done = await Promise.all(SCENARIOS.map((s, i) => runScenario(s, demos[i]!, prometheus)));
    for (const r of done) {
      results.set(r.scenario.id, r);
      // The measured times, in real (unscaled) seconds, for the README's table.
      console.log(`[alerts under faults] ${r.scenario.id}: ${describeFirings(r) || 'no alert fired'}; pending at some point: ${[...new Set(r.pending)].join(', ') || 'none'}`);
    }
  }, 240_000);

  afterAll(stopAll, 30_000);

  it('Prometheus loaded the scaled rule file: every shipped alert, all evaluating without error', async () => {
    const groups = await prometheus.ruleGroups();
    expect(groups.map((g) => g.file)).toEqual([prometheus.rulesFile]);
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(poolAlertRules().map((r) => r.name).sort());
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
  });

  it("the README's table has one row per scenario, and names only shipped alerts", () => {
    expect(table.map((r) => r.scenario)).toEqual(SCENARIOS.map((s) => s.id));
    const names = new Set(poolAlertRules().map((r) => r.name));
    for (const row of table) for (const f of [...row.duringFault, ...row.whenCleared]) expect(names, `${row.scenario}: ${f.alert}`).toContain(f.alert);
  });

  describe.each(SCENARIOS.map((s) => [s.id] as const))('%s', (id) => {
    const result = (): ScenarioResult => {
      const r = results.get(id);
      if (r === undefined) throw new Error(`scenario ${id} did not run`);
      if (r.error !== undefined) throw new Error(`scenario ${id} failed (fired: ${describeFirings(r)}): ${r.error instanceof Error ? r.error.message : JSON.stringify(r.error)}`);
      return r;
    };
    const bound = (f: ExpectedFiring): number => f.withinSeconds * SCALE + SLACK_SECONDS;

    it('fires exactly the alerts of the README table while the fault is held, each within its bound', () => {
      const r = result();
      const during = r.firing.filter((f) => f.first >= r.faultAt && f.first < (r.clearedAt ?? Infinity));
      expect(during.map((f) => f.alert).sort(), describeFirings(r)).toEqual(rowOf(id).duringFault.map((f) => f.alert).sort());
      for (const expected of rowOf(id).duringFault) {
        const f = during.find((x) => x.alert === expected.alert)!;
        expect(f.first - r.faultAt, `${expected.alert}: fired ${realSeconds(f.first - r.faultAt)} s (real) after the fault`).toBeLessThanOrEqual(bound(expected));
      }
    });

    it('nothing fires before the fault (a fresh start is quiet)', () => {
      const r = result();
      expect(r.firing.filter((f) => f.first < r.faultAt).map((f) => f.alert)).toEqual([]);
    });

    it('fires exactly the alerts of the table when the fault is cleared, and all resolve within the bound', () => {
      const r = result();
      const row = rowOf(id);
      if (r.clearedAt === undefined) {
        expect(row.whenCleared).toEqual([]);
        expect(row.resolvedWithinSeconds).toBeUndefined();
        return;
      }
      const clearedAt = r.clearedAt;
      const onClear = r.firing.filter((f) => f.first >= clearedAt);
      expect(onClear.map((f) => f.alert).sort(), describeFirings(r)).toEqual(row.whenCleared.map((f) => f.alert).sort());
      for (const expected of row.whenCleared) {
        const f = onClear.find((x) => x.alert === expected.alert)!;
        expect(f.first - clearedAt, expected.alert).toBeLessThanOrEqual(bound(expected));
      }
      expect(row.resolvedWithinSeconds, 'the table gives a resolution bound').toBeDefined();
      const lastFiring = Math.max(clearedAt, ...r.firing.map((f) => f.last));
      expect(lastFiring - clearedAt, describeFirings(r)).toBeLessThanOrEqual(row.resolvedWithinSeconds! * SCALE + SLACK_SECONDS);
    });

    it('every dashboard query shows a value (or a declared "nothing to show") on a fresh start, during the fault and after recovery', () => {
      const { dashboard } = result();
      for (const [phase, queries] of Object.entries(dashboard)) {
        expect(queries.length, phase).toBeGreaterThan(30);
        expect(queries.filter((q) => q.problem !== undefined).map((q) => `${phase}: ${q.source} ${q.problem}`)).toEqual([]);
      }
    });
  });

  it('the healthy pool at the defaults under steady load: no alert fired, none was even pending', () => {
    const healthy = results.get('healthy')!;
    expect(healthy.error).toBeUndefined();
    expect(healthy.firing).toEqual([]);
    expect(healthy.pending).toEqual([]);
  });

  it('the dashboard check can fail: a pool that does not exist shows no data', async () => {
    const queries = await evaluateDashboard(prometheus, 'no-such-pool');
    expect(queries.filter((q) => q.problem === 'shows no data where a value belongs').length).toBeGreaterThan(10);
  });
});
