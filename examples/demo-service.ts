/**
 * The otel-sqlite-pool demo service (`npm start`).
 *
 * An HTTP service on an embedded SQLite file whose every route goes through the health-checked
 * pool; metrics on a Prometheus endpoint, traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set, a built-in load generator with a progress line, and fault injection (a deleted or locked
 * database, a connection closed behind the pool's back) so you can watch unhealthy connections being
 * found and replaced. `npm start -- --help` lists the settings.
 *
 * Prints `READY http://HOST:PORT metrics=http://HOST:MPORT/metrics` once it serves, and drains on
 * SIGTERM / SIGINT (stops accepting requests and the load, waits for leases, flushes spans and
 * metrics) before it exits 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseManager, VERSION } from '../src/index.js';
import { startTelemetry, type Telemetry } from '../src/setup.js';
import { consoleLogger } from './demo/console-logger.js';
import { prepareDatabase } from './demo/database.js';
import { FAULTS_SWITCH, faultRoutes, isLoopbackAddress } from './demo/fault-guard.js';
import { FaultInjector } from './demo/faults.js';
import { createApp, type App } from './demo/http-app.js';
import { LoadGenerator } from './demo/load-generator.js';
import { HELP, parseDemoOptions, type DemoOptions } from './demo/options.js';

/** A second SIGINT/SIGTERM within this time of the first is the same request (see drain). */
const REPEAT_SIGNAL_GRACE_MS = 1000;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<void> {
  let options: DemoOptions;
  try {
    options = parseDemoOptions(process.argv.slice(2), process.env);
  } catch (error) {
    // The help first and the error last, so the error is what stays on screen.
    process.stderr.write(`${HELP}\n${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  if (options.help) {
    out(HELP);
    return;
  }

  const prepared = prepareDatabase(options.filename, options.seedUsers);
  if (prepared.restoredFrom !== undefined) out(`Put back ${prepared.restoredFrom}, left aside by a delete-db fault of an earlier run.`);

  // Telemetry first, so that everything after it is traced and measured.
  const telemetry = await startTelemetry({
    serviceName: options.serviceName,
    resourceAttributes: { 'service.version': VERSION, 'deployment.environment.name': 'demo' },
  }).catch((error: unknown) => fail(error)); // a busy metrics port is named in the error

  const db = new DatabaseManager({
    filename: options.filename,
    poolName: 'demo',
    poolSize: options.poolSize,
    healthCheckConfig: options.healthCheckConfig,
    acquireTimeoutMs: options.acquireTimeoutMs,
    busyTimeoutMs: options.busyTimeoutMs,
    // A deleted file must stay a fault, not become a new empty database.
    fileMustExist: true,
    leakDetectionThresholdMs: options.leakDetectionThresholdMs,
    logger: consoleLogger('pool', options.logLevel),
  });
  const faults = new FaultInjector(db, options.filename);
  let load: LoadGenerator | undefined;
  const app = createApp({
    db,
    faults,
    extraStats: () => ({ load: load === undefined ? { enabled: false } : { enabled: true, rps: load.options.rps, ...load.totals } }),
  });

  try {
    await db.initialize();
  } catch (error) {
    await telemetry.shutdown();
    fail(error);
  }

  const server = createServer((request, response) => app.handle(request, response));
  server.keepAliveTimeout = 5000;
  const address = await listen(server, options.port, options.host).catch(async (error: unknown) => {
    await db.close();
    await telemetry.shutdown();
    return fail(error, 'PORT');
  });
  const baseUrl = `http://${hostForUrl(address.address)}:${address.port}`;
  app.faultRoutes = faultRoutes(options.faults, address.address);
  const metricsUrl = telemetry.metricsUrl;

  if (options.load.enabled) {
    // Only ever its own server: a wildcard bind is reached on loopback.
    const target = address.address === '0.0.0.0' || address.address === '::' ? `http://127.0.0.1:${address.port}` : baseUrl;
    load = new LoadGenerator({ baseUrl: target, rps: options.load.rps, concurrency: options.load.concurrency, userCount: prepared.users });
    load.start();
  }
  const progress = setInterval(() => out(progressLine(db, faults, load)), options.progressIntervalMs);

  let drainStartedAt: number | undefined;
  const drain = async (signal: NodeJS.Signals): Promise<void> => {
    if (drainStartedAt !== undefined) {
      // One Ctrl-C under `npm start` arrives twice: from the terminal (to the whole process group)
      // and forwarded by npm. Only a signal well after the first is a request to stop now.
      if (performance.now() - drainStartedAt < REPEAT_SIGNAL_GRACE_MS) return;
      out(`${signal} again: exiting without draining`);
      process.exit(1);
    }
    drainStartedAt = performance.now();
    const startedAt = drainStartedAt;
    out(`${signal}: draining (stop accepting requests, stop the load, wait for leases, flush telemetry)`);
    clearInterval(progress);
    app.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await load?.stop();
    // Requests in flight finish (bounded by the acquire and busy timeouts); then no socket is left.
    const force = setTimeout(() => server.closeAllConnections(), 10_000).unref();
    await closed;
    clearTimeout(force);
    // Held leases go back first: close() would otherwise wait for them until its deadline.
    faults.dispose();
    const report = await db.close();
    const flushed = await withTimeout(telemetry.shutdown(), 10_000);
    const ms = Math.round(performance.now() - startedAt);
    out(
      `DRAINED signal=${signal} requests=${app.handled} in_flight=${app.inFlight} leases_forced=${report.forcedLeases.length} ` +
        `telemetry=${flushed ? 'flushed' : 'timeout'} in ${ms} ms`,
    );
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      drain(signal).catch((error: unknown) => {
        process.stderr.write(`Drain failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      });
    });
  }
  // READY only once the handlers are in place: a signal sent on seeing it must drain, not kill.
  printBanner(options, baseUrl, metricsUrl, telemetry, prepared.users, app);
  out(`READY ${baseUrl} metrics=${metricsUrl}`);
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function fail(error: unknown, setting?: 'PORT'): never {
  const message = error instanceof Error ? error.message : String(error);
  let hint = '';
  if ((error as { code?: unknown })?.code === 'EADDRINUSE' && setting !== undefined) {
    hint = ' Another program uses this port (Grafana of otel-collector/ listens on 3000): set PORT=8080, or PORT=0 for any free port.';
  }
  process.stderr.write(`The demo could not start: ${message}.${hint}\n`);
  process.exit(1);
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function progressLine(db: DatabaseManager, faults: FaultInjector, load: LoadGenerator | undefined): string {
  const s = db.getConnectionStatsSync();
  let loadText = 'load off';
  if (load !== undefined) {
    const w = load.takeWindow();
    const rate = w.seconds > 0 ? w.requests / w.seconds : 0;
    const failures = Object.entries(w.byStatus)
      .filter(([status]) => !/^[23]/.test(status))
      .map(([status, n]) => `${status}x${n}`)
      .join(' ');
    loadText =
      `load ${rate.toFixed(1)} req/s, p50 ${ms(w.p50Ms)}, p99 ${ms(w.p99Ms)}, errors ${w.errors}${failures ? ` (${failures})` : ''}` +
      (w.skipped > 0 ? `, ${w.skipped} skipped (concurrency limit)` : '');
  }
  const active = faults.active();
  const faultText = [
    active.deleted ? 'db deleted' : '',
    active.locked ? 'db locked' : '',
    active.closedConnections.length > 0 ? `closed ${active.closedConnections.join(',')}` : '',
    active.heldLeases > 0 ? `${active.heldLeases} connections held` : '',
  ].filter(Boolean).join(', ') || 'none';
  const closed = s.lifetime.closed;
  return (
    `[progress] ${loadText} | pool used ${s.usedConnections} idle ${s.availableConnections} pending ${s.pendingRequests} ` +
    `| healthy ${s.healthyConnections} (min ${db.healthCheckConfig.minHealthyConnections}) unhealthy ${s.unhealthyConnections} ` +
    `| created ${s.lifetime.created}, replaced ${closed.unhealthy + closed.error}, expired ${closed.max_age + closed.max_usage} ` +
    `| probes ok ${(s.healthCheckSuccessRate * 100).toFixed(1)}% | faults: ${faultText}`
  );
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : `${value.toFixed(1)} ms`;
}

async function withTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs).unref();
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where spans go, as the SDK was told by the environment (for the banner only: the SDK reads the variables itself). */
function tracesLine(telemetry: Telemetry): string {
  if (telemetry.traces === 'off') return 'off (set OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 to send them to the collector)';
  const { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces, OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_TRACES_EXPORTER: exporter } = process.env;
  if (traces) return `OTLP/HTTP to ${traces}`;
  if (base) return `OTLP/HTTP to ${base.replace(/\/$/, '')}/v1/traces`;
  return `OTEL_TRACES_EXPORTER=${exporter ?? ''}`;
}

function printBanner(options: DemoOptions, baseUrl: string, metricsUrl: string, telemetry: Telemetry, users: number, app: App): void {
  const c = options.healthCheckConfig;
  const loopback = isLoopbackAddress(new URL(baseUrl).hostname.replace(/^\[(.*)\]$/, '$1'));
  const post = `curl -s -X POST ${baseUrl}/faults`;
  out(
    [
      `otel-sqlite-pool demo service ${VERSION} (service.name=${options.serviceName})`,
      `  service   ${baseUrl}/${loopback ? '   (loopback only; HOST=0.0.0.0 exposes it to the network)' : '   (NOT loopback: reachable from the network)'}`,
      `  database  ${options.filename}: ${users} users; pool size ${options.poolSize}, min healthy ${c.minHealthyConnections}, ` +
        `health checks every ${c.intervalMs / 1000} s, probe "${c.query}"`,
      `  metrics   ${metricsUrl}   (OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0 exposes it, e.g. for the Prometheus container)`,
      `  traces    ${tracesLine(telemetry)}`,
      `  load      ${options.load.enabled ? `${options.load.rps} req/s, at most ${options.load.concurrency} at once (--no-load or DEMO_LOAD=0 switches it off)` : 'off (--load or DEMO_LOAD=1 switches it on)'}`,
      '',
      'Try the routes:',
      `  curl -s ${baseUrl}/users/42`,
      `  curl -s '${baseUrl}/users?limit=5&offset=100'`,
      `  curl -s -X POST -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}' ${baseUrl}/users`,
      `  curl -s ${baseUrl}/stats          # pool statistics (getConnectionStats) and every connection`,
      `  curl -si ${baseUrl}/healthz       # 200 while healthy connections >= ${c.minHealthyConnections}, else 503`,
      `  curl -s ${metricsUrl} | grep -E '^(db_client|sqlite_pool)'`,
      '',
      ...(app.faultRoutes.enabled
        ? [
            `Inject faults (on: ${loopback ? 'loopback only' : `${FAULTS_SWITCH}=1`}) and watch the progress line, /stats and the pool warnings find and replace connections:`,
            `  ${post}/close-connection   # close a pooled connection behind the pool's back`,
            `  ${post}/delete-db          # move the database file away: probes fail, no replacement can open`,
            `  ${post}/restore-db`,
            `  ${post}/lock-db            # another connection holds BEGIN EXCLUSIVE: writes fail with SQLITE_BUSY`,
            `  ${post}/unlock-db`,
            `  ${post}/hold-connections   # take every connection and keep it: requests queue and time out, leases are reported as leaks`,
            `  ${post}/release-connections`,
            `  ${post}/clear              # undo every fault and run a health-check cycle now`,
          ]
        : [`Fault injection (POST /faults/*) answers 403: ${app.faultRoutes.refusal ?? ''}`]),
      '',
      'Dashboards, alerts and traces: otel-collector/ (see its README):',
      '  cd otel-collector && docker compose up -d',
      '  then run the demo so the containers reach it (Grafana takes port 3000):',
      '  PORT=8080 OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm start',
      '  Grafana http://127.0.0.1:3000 (dashboard "SQLite pool"), Prometheus alerts http://127.0.0.1:9090/alerts,',
      '  Jaeger http://127.0.0.1:16686',
      '',
      'Ctrl-C (SIGINT) or SIGTERM drains and exits.',
    ].join('\n'),
  );
}

await main();
