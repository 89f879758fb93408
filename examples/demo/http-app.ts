/**
 * The demo's HTTP routes (node:http, no framework). Every request runs inside a SERVER span, so
 * the pool's spans (`sqlite_pool.acquire`, `SELECT users`, ...) are its children in one trace.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import { isConnectionFatal, errorType, type DatabaseManager } from '../../src/index.js';
import type { User } from './database.js';
import type { FaultRoutes } from './fault-guard.js';
import type { FaultInjector, FaultOutcome } from './faults.js';

type Json = Record<string, unknown> | unknown[];
interface Reply {
  status: number;
  body: Json;
}
type Handler = (request: IncomingMessage, url: URL, params: string[]) => Promise<Reply> | Reply;
interface Route {
  method: 'GET' | 'POST';
  /** `http.route`, e.g. `/users/:id`. */
  route: string;
  pattern: RegExp;
  handler: Handler;
}

export interface AppDependencies {
  db: DatabaseManager;
  faults: FaultInjector;
  /** Extra fields for `/stats` (the load generator's numbers). */
  extraStats?: () => Record<string, unknown>;
}

export interface App {
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Set at shutdown: `/healthz` answers 503 and responses close their connection. */
  draining: boolean;
  /** Set once the server listens (it depends on the address bound): off, `POST /faults/*` answers 403. */
  faultRoutes: FaultRoutes;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** Requests handled since start. */
  readonly handled: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const tracer = trace.getTracer('otel-sqlite-pool-demo');

export function createApp(deps: AppDependencies): App {
  const { db, faults } = deps;
  const fault = (run: () => FaultOutcome | Promise<FaultOutcome>): Handler => async () => {
    const refusal = app.faultRoutes.refusal;
    if (!app.faultRoutes.enabled) return { status: 403, body: { error: 'faults_disabled', message: refusal ?? 'Fault injection is off' } };
    const { status, ...body } = await run();
    return { status, body };
  };

  const routes: Route[] = [
    {
      method: 'GET',
      route: '/',
      pattern: /^\/$/,
      handler: () => ({ status: 200, body: { service: 'otel-sqlite-pool demo', routes: routes.map((r) => `${r.method} ${r.route}`) } }),
    },
    {
      method: 'GET',
      route: '/users/:id',
      pattern: /^\/users\/([^/]+)$/,
      handler: async (_req, _url, [raw]) => {
        const id = Number(raw);
        if (!Number.isSafeInteger(id) || id < 1) throw new HttpError(400, 'The user id must be a positive integer');
        const user = await db.withLease((lease) => lease.get<User>('SELECT id, name, email, created_at FROM users WHERE id = ?', [id]));
        return user === undefined ? { status: 404, body: { error: 'not_found', message: `No user ${id}` } } : { status: 200, body: user as unknown as Json };
      },
    },
    {
      method: 'GET',
      route: '/users',
      pattern: /^\/users$/,
      handler: async (_req, url) => {
        const limit = clampInt(url.searchParams.get('limit'), 10, 1, 100, 'limit');
        const offset = clampInt(url.searchParams.get('offset'), 0, 0, Number.MAX_SAFE_INTEGER, 'offset');
        const users = await db.withLease((lease) => lease.all<User>('SELECT id, name, email, created_at FROM users ORDER BY id LIMIT ? OFFSET ?', [limit, offset]));
        return { status: 200, body: { users, limit, offset } };
      },
    },
    {
      method: 'POST',
      route: '/users',
      pattern: /^\/users$/,
      handler: async (request) => {
        const input = await readJson(request);
        const name = typeof input.name === 'string' ? input.name.trim() : '';
        const email = typeof input.email === 'string' ? input.email.trim() : '';
        if (name === '' || name.length > 100) throw new HttpError(400, 'name: expected a string of 1 to 100 characters');
        if (!/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 200) throw new HttpError(400, 'email: expected an e-mail address');
        const user = await db.transaction(async (lease) => {
          const { lastInsertRowid } = await lease.run('INSERT INTO users (name, email) VALUES (?, ?)', [name, email]);
          return lease.get<User>('SELECT id, name, email, created_at FROM users WHERE id = ?', [lastInsertRowid]);
        });
        return { status: 201, body: user as unknown as Json };
      },
    },
    {
      method: 'GET',
      route: '/stats',
      pattern: /^\/stats$/,
      handler: async () => ({
        status: 200,
        body: {
          poolName: db.poolName,
          database: db.namespace,
          minHealthyConnections: db.healthCheckConfig.minHealthyConnections,
          healthCheckIntervalMs: db.healthCheckConfig.intervalMs,
          ...(await db.getConnectionStats()),
          connections: [...db.connections()].map((c) => c.getStats()),
          faults: faults.active(),
          ...deps.extraStats?.(),
        },
      }),
    },
    {
      method: 'GET',
      route: '/healthz',
      pattern: /^\/healthz$/,
      handler: () => {
        const stats = db.getConnectionStatsSync();
        const min = db.healthCheckConfig.minHealthyConnections;
        const healthy = !app.draining && stats.healthyConnections >= min;
        return {
          status: healthy ? 200 : 503,
          body: {
            status: app.draining ? 'draining' : healthy ? 'ok' : 'unhealthy',
            healthyConnections: stats.healthyConnections,
            minHealthyConnections: min,
            unhealthyConnections: stats.unhealthyConnections,
            totalConnections: stats.totalConnections,
          },
        };
      },
    },
    { method: 'GET', route: '/faults', pattern: /^\/faults$/, handler: () => ({ status: 200, body: { ...faults.active(), enabled: app.faultRoutes.enabled } }) },
    { method: 'POST', route: '/faults/delete-db', pattern: /^\/faults\/delete-db$/, handler: fault(() => faults.deleteDb()) },
    { method: 'POST', route: '/faults/restore-db', pattern: /^\/faults\/restore-db$/, handler: fault(() => faults.restoreDb()) },
    { method: 'POST', route: '/faults/lock-db', pattern: /^\/faults\/lock-db$/, handler: fault(() => faults.lockDb()) },
    { method: 'POST', route: '/faults/unlock-db', pattern: /^\/faults\/unlock-db$/, handler: fault(() => faults.unlockDb()) },
    { method: 'POST', route: '/faults/close-connection', pattern: /^\/faults\/close-connection$/, handler: fault(() => faults.closeConnection()) },
    { method: 'POST', route: '/faults/hold-connections', pattern: /^\/faults\/hold-connections$/, handler: fault(() => faults.holdConnections()) },
    { method: 'POST', route: '/faults/release-connections', pattern: /^\/faults\/release-connections$/, handler: fault(() => faults.releaseConnections()) },
    { method: 'POST', route: '/faults/clear', pattern: /^\/faults\/clear$/, handler: fault(() => faults.clear()) },
  ];

  let inFlight = 0;
  let handled = 0;

  const app: App = {
    draining: false,
    faultRoutes: { enabled: false, refusal: 'The service is not listening yet' },
    get inFlight() {
      return inFlight;
    },
    get handled() {
      return handled;
    },
    handle(request, response) {
      inFlight++;
      const url = new URL(request.url ?? '/', 'http://localhost');
      const method = request.method ?? 'GET';
      const match = matchRoute(routes, method, url.pathname);
      // W3C trace context from the caller, if any; else this request starts a trace.
      const parent = propagation.extract(ROOT_CONTEXT, request.headers);
      const span = tracer.startSpan(
        match.route === undefined ? method : `${method} ${match.route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': method,
            'url.path': url.pathname,
            'url.scheme': 'http',
            ...(url.search === '' ? {} : { 'url.query': url.search.slice(1) }),
            ...(match.route === undefined ? {} : { 'http.route': match.route }),
            'server.address': request.socket.localAddress ?? '',
            'server.port': request.socket.localPort ?? 0,
            'client.address': request.socket.remoteAddress ?? '',
            'network.protocol.version': request.httpVersion,
            ...(request.headers['user-agent'] === undefined ? {} : { 'user_agent.original': request.headers['user-agent'] }),
            ...(request.headers['x-demo-load'] === undefined ? {} : { 'demo.load_generator': true }),
          },
        },
        parent,
      );
      response.once('close', () => {
        inFlight--;
        handled++;
      });
      void context.with(trace.setSpan(parent, span), async () => {
        let reply: Reply;
        try {
          if (match.handler === undefined) {
            reply = match.allowed.length > 0
              ? { status: 405, body: { error: 'method_not_allowed', allowed: match.allowed } }
              : { status: 404, body: { error: 'not_found', message: `No route for ${method} ${url.pathname}; GET / lists the routes` } };
          } else {
            reply = await match.handler(request, url, match.params);
          }
        } catch (error) {
          reply = errorReply(error, span);
        }
        send(response, reply, app.draining, match.allowed);
        span.setAttribute('http.response.status_code', reply.status);
        if (reply.status >= 500) {
          const type = (reply.body as { error?: unknown }).error;
          span.setAttribute('error.type', typeof type === 'string' ? type : String(reply.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      });
    },
  };
  return app;
}

function matchRoute(routes: Route[], method: string, path: string): { handler?: Handler; route?: string; params: string[]; allowed: string[] } {
  const allowed: string[] = [];
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m === null) continue;
    if (route.method === method) return { handler: route.handler, route: route.route, params: m.slice(1).map((p) => decodeURIComponent(p)), allowed };
    allowed.push(route.method);
  }
  return { params: [], allowed };
}

/** Maps an error to a status: a pool that cannot lend, or a locked database, is 503 (retry later). */
function errorReply(error: unknown, span: Span): Reply {
  if (error instanceof HttpError) {
    return { status: error.status, body: { error: error.status === 413 ? 'payload_too_large' : 'bad_request', message: error.message } };
  }
  const type = errorType(error);
  const message = error instanceof Error ? error.message : String(error);
  let status = 500;
  if (type.startsWith('SQLITE_CONSTRAINT')) status = 409;
  else if (
    type.startsWith('SQLITE_BUSY') ||
    type.startsWith('SQLITE_LOCKED') ||
    ['SQLITE_POOL_ACQUIRE_TIMEOUT', 'SQLITE_POOL_CLOSED', 'SQLITE_POOL_CONNECT_FAILED'].includes(type) ||
    isConnectionFatal(error)
  ) {
    status = 503;
  }
  if (status >= 500 && error instanceof Error) span.recordException(error);
  return { status, body: { error: type, message } };
}

function send(response: ServerResponse, reply: Reply, draining: boolean, allowed: string[]): void {
  const body = JSON.stringify(reply.body, null, 2) + '\n';
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  if (reply.status === 405) headers.allow = allowed.join(', ');
  if (reply.status === 503) headers['retry-after'] = 1;
  if (draining) headers.connection = 'close';
  response.writeHead(reply.status, headers).end(body);
}

function clampInt(raw: string | null, fallback: number, min: number, max: number, name: string): number {
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new HttpError(400, `${name}: expected an integer`);
  return Math.min(max, Math.max(min, value));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new HttpError(413, 'The body is larger than 64 KiB');
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'The body must be JSON, e.g. {"name":"Ada","email":"ada@example.com"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'The body must be a JSON object');
  return parsed as Record<string, unknown>;
}
