/**
 * A real Prometheus server (Debian's 2.42, installed by .ci/run) on loopback for the stack tests:
 * started with a config and rule file written to a temp dir, asked through its HTTP API, stopped
 * with the demo children by stopAll().
 */
import { existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { Child, freePort, pollUntil, requestJson, startChild, tempDir } from '../demo/demo-process.js';

/** Debian's binary, or the first `prometheus` on PATH. */
export const PROMETHEUS_BINARY = ['/usr/bin/prometheus', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'prometheus'))].find((path) =>
  existsSync(path),
);

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}
export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}
interface ApiResponse<T> {
  status: string;
  data: T;
}

export interface ScrapeTarget {
  job: string;
  /** host:port of a /metrics endpoint. */
  address: string;
  /** Rewrites db_client_connection_pool_name on every series of the target (one pool name per job). */
  poolName?: string;
}

export interface PrometheusOptions {
  targets: readonly ScrapeTarget[];
  /** The rule file's text. */
  rules: string;
  scrapeIntervalSeconds: number;
  evaluationIntervalSeconds: number;
}

const seconds = (s: number): string => `${Math.round(s * 1000)}ms`;

export class PrometheusServer {
  readonly api: string;
  readonly child: Child;
  readonly rulesFile: string;

  private constructor(api: string, child: Child, rulesFile: string) {
    this.api = api;
    this.child = child;
    this.rulesFile = rulesFile;
  }

  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    if (PROMETHEUS_BINARY === undefined) {
      throw new Error("No prometheus binary (looked at /usr/bin/prometheus and on PATH): the stack tests need Debian's prometheus package (apt-get install prometheus; .ci/run installs it)");
    }
    const dir = tempDir('otel-sqlite-pool-prometheus-');
    const rulesFile = join(dir, 'sqlite-pool-alerts.yaml');
    writeFileSync(rulesFile, options.rules);
    const config = {
      global: {
        scrape_interval: seconds(options.scrapeIntervalSeconds),
        scrape_timeout: seconds(options.scrapeIntervalSeconds),
        evaluation_interval: seconds(options.evaluationIntervalSeconds),
      },
      rule_files: [rulesFile],
      scrape_configs: options.targets.map((t) => ({
        job_name: t.job,
        static_configs: [{ targets: [t.address] }],
        ...(t.poolName === undefined
          ? {}
          : {
              metric_relabel_configs: [
                { source_labels: ['db_client_connection_pool_name'], regex: '.+', target_label: 'db_client_connection_pool_name', replacement: t.poolName },
              ],
            }),
      })),
    };
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(configFile, stringify(config));
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const child = startChild('prometheus', PROMETHEUS_BINARY, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    await pollUntil(
      'Prometheus is ready',
      async () => {
        if (!child.running) throw new Error(`prometheus exited\n${child.tail()}`);
        const r = await fetch(`${api}/-/ready`);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${child.tail()}`);
    });
    return new PrometheusServer(api, child, rulesFile);
  }

  async #get<T>(path: string, params: Record<string, string>): Promise<T> {
    const r = await requestJson<ApiResponse<T>>(`${this.api}${path}?${new URLSearchParams(params).toString()}`);
    if (r.body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)} failed: ${JSON.stringify(r.body)}`);
    return r.body.data;
  }

  /** An instant query, at `time` (Unix seconds) or now. */
  async query(promql: string, time?: number): Promise<Sample[]> {
    const data = await this.#get<{ resultType: string; result: Sample[] }>('/api/v1/query', {
      query: promql,
      ...(time === undefined ? {} : { time: String(time) }),
    });
    return data.result;
  }

  async queryRange(promql: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]> {
    const data = await this.#get<{ result: RangeSeries[] }>('/api/v1/query_range', {
      query: promql,
      start: String(start),
      end: String(end),
      step: String(stepSeconds),
    });
    return data.result;
  }

  async alerts(): Promise<ActiveAlert[]> {
    return (await this.#get<{ alerts: ActiveAlert[] }>('/api/v1/alerts', {})).alerts;
  }

  async ruleGroups(): Promise<{ file: string; rules: { name: string; health: string }[] }[]> {
    return (await this.#get<{ groups: { file: string; rules: { name: string; health: string }[] }[] }>('/api/v1/rules', {})).groups;
  }
}
