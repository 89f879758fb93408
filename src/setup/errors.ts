/** Errors of the SDK entries (`otel-sqlite-pool/setup` and `/register`). */
import { SqlitePoolError } from '../errors.js';

/** An SDK package that the entry builds on is not installed (they are optional peer dependencies). */
export class MissingSdkError extends SqlitePoolError {
  /** The packages that are missing, e.g. `['@opentelemetry/sdk-node']`. */
  readonly packages: readonly string[];
  /** The command that installs them, e.g. `npm install @opentelemetry/sdk-node@^0.223.0`. */
  readonly installCommand: string;

  constructor(entry: string, packages: readonly string[], installCommand: string) {
    super(
      'SQLITE_POOL_SDK_MISSING',
      `${entry} needs the OpenTelemetry SDK, an optional peer dependency of otel-sqlite-pool: ` +
        `${packages.join(' and ')} ${packages.length === 1 ? 'is' : 'are'} not installed. Install with: ${installCommand}`,
    );
    this.packages = packages;
    this.installCommand = installCommand;
  }
}

/** The Prometheus endpoint could not listen (a busy port, a host that is not this machine's, a port below 1024). */
export class MetricsEndpointError extends SqlitePoolError {
  readonly host: string;
  readonly port: number;

  constructor(host: string, port: number, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    const why =
      code === 'EADDRINUSE'
        ? `port ${port} is in use by another program. Set OTEL_EXPORTER_PROMETHEUS_PORT (or the prometheus.port option) to a free port, or 0 for any free one`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? `${host} is not an address of this machine. Set OTEL_EXPORTER_PROMETHEUS_HOST (or the prometheus.host option), e.g. 127.0.0.1 or 0.0.0.0`
          : code === 'EACCES'
            ? `port ${port} needs privileges. Set OTEL_EXPORTER_PROMETHEUS_PORT (or the prometheus.port option) to a port from 1024`
            : `${cause instanceof Error ? cause.message : String(cause)}. Check OTEL_EXPORTER_PROMETHEUS_HOST and OTEL_EXPORTER_PROMETHEUS_PORT (or the prometheus option)`;
    super(
      'SQLITE_POOL_METRICS_LISTEN_FAILED',
      `The Prometheus endpoint could not listen on ${host}:${port}${typeof code === 'string' ? ` (${code})` : ''}: ${why}; prometheus: false serves no metrics.`,
      { cause },
    );
    this.host = host;
    this.port = port;
  }
}
