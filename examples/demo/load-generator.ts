/**
 * A small, bounded load generator: it sends at most `rps` requests per second, never more than
 * `concurrency` at once, and only to the demo's own server.
 */
import { Agent, request } from 'node:http';

export interface LoadOptions {
  /** The demo's own base URL, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  rps: number;
  concurrency: number;
  /** Highest seeded user id (reads pick ids from 1 to this). */
  userCount: number;
}

export interface LoadWindow {
  seconds: number;
  requests: number;
  errors: number;
  /** Requests not sent because `concurrency` were already in flight. */
  skipped: number;
  byStatus: Record<string, number>;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export interface LoadTotals {
  requests: number;
  errors: number;
  skipped: number;
  byStatus: Record<string, number>;
}

const TICK_MS = 50;

export class LoadGenerator {
  readonly options: LoadOptions;
  readonly #agent: Agent;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #budget = 0;
  #lastTick = 0;
  #sequence = 0;
  #window = newWindow();
  #windowStartedAt = performance.now();
  readonly totals: LoadTotals = { requests: 0, errors: 0, skipped: 0, byStatus: {} };

  constructor(options: LoadOptions) {
    this.options = options;
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastTick = performance.now();
    this.#windowStartedAt = this.#lastTick;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#inFlight]);
    this.#agent.destroy();
  }

  /** The numbers since the last call (for the progress line). */
  takeWindow(): LoadWindow {
    const w = this.#window;
    const now = performance.now();
    const latencies = w.latencies.sort((a, b) => a - b);
    const result: LoadWindow = {
      seconds: (now - this.#windowStartedAt) / 1000,
      requests: w.requests,
      errors: w.errors,
      skipped: w.skipped,
      byStatus: w.byStatus,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
    };
    this.#window = newWindow();
    this.#windowStartedAt = now;
    return result;
  }

  #tick(): void {
    const now = performance.now();
    // Budget grows with elapsed time, capped at one tick's worth plus one: no bursts after a stall.
    this.#budget = Math.min(this.#budget + ((now - this.#lastTick) / 1000) * this.options.rps, (this.options.rps * TICK_MS) / 1000 + 1);
    this.#lastTick = now;
    while (this.#budget >= 1) {
      this.#budget -= 1;
      if (this.#inFlight.size >= this.options.concurrency) {
        this.#window.skipped++;
        this.totals.skipped++;
        continue;
      }
      const sent = this.#send().finally(() => this.#inFlight.delete(sent));
      this.#inFlight.add(sent);
    }
  }

  #send(): Promise<void> {
    const { method, path, body } = this.#nextRequest();
    const startedAt = performance.now();
    return new Promise<void>((resolve) => {
      const done = (status: string): void => {
        const w = this.#window;
        w.requests++;
        this.totals.requests++;
        w.byStatus[status] = (w.byStatus[status] ?? 0) + 1;
        this.totals.byStatus[status] = (this.totals.byStatus[status] ?? 0) + 1;
        if (!/^[23]/.test(status)) {
          w.errors++;
          this.totals.errors++;
        }
        w.latencies.push(performance.now() - startedAt);
        resolve();
      };
      const req = request(
        new URL(path, this.options.baseUrl),
        {
          method,
          agent: this.#agent,
          timeout: 10_000,
          headers: { 'x-demo-load': '1', 'user-agent': 'otel-sqlite-pool-demo-load', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        },
        (res) => {
          res.resume();
          res.once('end', () => done(String(res.statusCode ?? 0)));
          res.once('error', () => done('error'));
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', () => done('error'));
      req.end(body);
    });
  }

  /** 75 % single reads, 20 % pages, 5 % inserts. */
  #nextRequest(): { method: 'GET' | 'POST'; path: string; body?: string } {
    const roll = Math.random();
    if (roll < 0.75) return { method: 'GET', path: `/users/${1 + Math.floor(Math.random() * this.options.userCount)}` };
    if (roll < 0.95) return { method: 'GET', path: `/users?limit=20&offset=${Math.floor(Math.random() * Math.max(1, this.options.userCount - 20))}` };
    const n = ++this.#sequence;
    const tag = `${process.pid}-${Date.now().toString(36)}-${n}`;
    return { method: 'POST', path: '/users', body: JSON.stringify({ name: `Load ${n}`, email: `load-${tag}@example.test` }) };
  }
}

function newWindow(): { requests: number; errors: number; skipped: number; byStatus: Record<string, number>; latencies: number[] } {
  return { requests: 0, errors: 0, skipped: 0, byStatus: {}, latencies: [] };
}

function percentile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
