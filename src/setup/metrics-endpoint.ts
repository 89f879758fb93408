/**
 * The Prometheus scrape endpoint, served by our own `node:http` server around the exporter's
 * public `getMetricsRequestHandler()`. The exporter's built-in server cannot bind port 0 (it
 * reads `config.port || OTEL_EXPORTER_PROMETHEUS_PORT || 9464`), does not tell which port it
 * bound, and binds every interface by default; this one binds where it is told (loopback by
 * default, see setup.ts), reports the real URL and words a failed listen.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MetricsEndpointError } from './errors.js';

export interface MetricsEndpoint {
  /** Where Prometheus scrapes, with the port really bound, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveMetrics(exporter: PrometheusExporter, host: string, port: number, path: string): Promise<MetricsEndpoint> {
  const server: Server = createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname === path && (request.method === 'GET' || request.method === 'HEAD')) {
      exporter.getMetricsRequestHandler(request, response);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`Not found: metrics are at ${path}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new MetricsEndpointError(host, port, error)));
    server.listen(port, host, () => resolve());
  });
  // Scrapes must not keep an otherwise finished process alive (the exporter's own server is unref'ed too).
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
