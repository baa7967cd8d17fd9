/**
 * Hosts MCP over HTTP on plain node:http, both protocol eras on one URL, behind the checks every
 * Bastion HTTP server applies, in this order (one concern a file, as the SDK keeps its guards):
 *
 *   1. Host and Origin name this server (guards/host-header.ts, guards/origin.ts): 403.
 *   2. The path is served at all (404, before authentication: an unknown server name or an OAuth
 *      discovery document is "not here", not "log in first").
 *   3. A bearer token, when the host has an authenticator (guards/bearer.ts): 401.
 *   4. The body: size and nesting limits (body.ts): 413 / 400.
 *   5. The era (modern.ts): a 2025-era request joins its session (sessions.ts; Streamable HTTP in
 *      streamable-session.ts, legacy SSE in legacy-sse.ts), a 2026-era request is served by its
 *      caller's identity scope (identities.ts).
 *
 * The SDK's `createMcpHandler` serves the 2026 era but validates no Host, Origin or token and keeps
 * no sessions; its 2025-era fallback is stateless. So this host stays in front of it, and keeps the
 * 2025-era sessions (and the legacy SSE endpoints the MQTTX app needs) itself.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isInitializeRequest, type Transport } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { BODY_FAILED, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JSON_DEPTH, readJsonBody } from './body.js';
import {
  type Authenticator,
  bearerTokenOf,
  isOAuthDiscoveryPath,
  type Principal,
  sendUnauthorized,
} from './guards/bearer.js';
import { hostProblem, LOOPBACK_HOSTNAMES, normalizeHostname } from './guards/host-header.js';
import { originProblem, originSet, ownOrigins } from './guards/origin.js';
import { IdentityScopes } from './identities.js';
import { openSseSession, postSseMessage, type SSEServerTransport } from './legacy-sse.js';
import { isLegacyHttpRequest, type ModernIdentity, sendUnsupportedModern } from './modern.js';
import { sendJson, sendRpcError } from './responses.js';
import { type SessionHandle, SessionTable } from './sessions.js';
import { StreamableSessionTransport } from './streamable-session.js';

export interface SessionInfo<P extends Principal> {
  sessionId: string;
  transport: 'streamable-http' | 'sse';
  principal: P;
  /** The endpoint's name, e.g. a gateway's server name; '' for a server with one endpoint. */
  endpoint: string;
}

export interface McpEndpoint<P extends Principal> {
  name?: string;
  /** Streamable HTTP path, e.g. `/mcp`: both eras. */
  streamablePath?: string;
  /** Legacy HTTP+SSE paths, e.g. `{ streamPath: '/mqttx/sse', messagePath: '/mqttx/message' }`. */
  sse?: { streamPath: string; messagePath: string };
  /** 2025 era: connects a fresh MCP server (or proxy) to `transport`. Called once per session. */
  openSession(transport: Transport | SSEServerTransport, info: SessionInfo<P>): Promise<SessionHandle>;
  /**
   * 2026 era: opens what one identity holds and the handler of its requests (see `sdkModernIdentity`).
   * Without it, 2026-era requests are answered with the unsupported-protocol-version error.
   */
  openIdentity?(principal: P, endpoint: string): Promise<ModernIdentity>;
  /**
   * Serves every request of the Streamable HTTP path itself, both eras, once the guards have passed
   * and a POST's body is read (the gateway's forwarding core, which keeps no SDK server per session).
   * When set, `openIdentity` is not used and `openSession` serves only the legacy SSE endpoints.
   */
  serve?(req: IncomingMessage, res: ServerResponse, context: RawRequestContext<P>): Promise<void>;
}

export interface RawRequestContext<P extends Principal> {
  principal: P;
  /** The parsed JSON body of a POST (size and depth checked); undefined for GET and DELETE. */
  body: unknown;
  endpoint: string;
}

/** A plain route outside MCP (e.g. `/healthz`); it passes the same Host and auth checks unless public. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface McpHttpHostOptions<P extends Principal = Principal> {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  endpoints: ReadonlyArray<McpEndpoint<P>>;
  /**
   * Decides who the caller is from the bearer token (undefined when none was sent). Returning
   * undefined answers 401. Default: everyone is `{ id: 'anonymous' }`.
   */
  authenticate?: Authenticator<P>;
  /** Host names accepted in `Host`; default: loopback names and the bind host. */
  allowedHosts?: ReadonlyArray<string>;
  /** Browser origins allowed besides the server's own (guards/origin.ts); never `null`. */
  allowedOrigins?: ReadonlyArray<string>;
  /** Largest accepted request body. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Deepest accepted JSON nesting. Default 64. */
  maxJsonDepth?: number;
  /** Plain GET routes outside MCP (e.g. `/healthz`). */
  routes?: Readonly<Record<string, RouteHandler>>;
  /** Routes that skip authentication (still Host-checked), e.g. `/healthz`. */
  publicRoutes?: ReadonlyArray<string>;
  /**
   * Web applications served under a path prefix (the gateway's console at `/console`): every
   * method, after the Host and Origin checks, and without the bearer check, because they
   * authenticate their own way (a cookie session for pages, their own token for their API).
   */
  apps?: ReadonlyArray<{ prefix: string; handle: RouteHandler }>;
  /** Interval of SSE comment heartbeats on event streams. Default 10 s (the MQTTX server's). */
  sseHeartbeatMs?: number;
  /** A 2025-era session with no open stream and no request for this long is closed. Default 10 min. */
  idleSessionTimeoutMs?: number;
  /** A 2026-era identity with no request and no open stream for this long loses its state. Default 30 min. */
  idleIdentityTimeoutMs?: number;
  logger: Logger;
  /** Name used in the listening log line. */
  name: string;
}

export interface McpHttpHost {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  readonly port: number;
  /** Open 2025-era MCP sessions across all endpoints. */
  sessionCount(): number;
  /** 2026-era identities holding state across all endpoints. */
  identityCount(): number;
  /** Closes every session and identity, then the listener. Idempotent. */
  close(): Promise<void>;
}

interface Route<P extends Principal> {
  kind: 'streamable' | 'sse-stream' | 'sse-message';
  endpoint: McpEndpoint<P>;
}

export async function startMcpHttpHost<P extends Principal = Principal>(
  options: McpHttpHostOptions<P>,
): Promise<McpHttpHost> {
  const bindHost = options.host ?? '127.0.0.1';
  const log = options.logger;
  const limits = {
    maxBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxDepth: options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH,
  };
  const allowedHosts = new Set(
    (options.allowedHosts ?? [...LOOPBACK_HOSTNAMES, bindHost]).map(normalizeHostname),
  );
  const configuredOrigins = originSet(options.allowedOrigins ?? []);
  /** Filled once the port is known: the server's own origins, then the configured ones. */
  const allowedOrigins = new Set<string>();
  const authenticate: Authenticator<P> = options.authenticate ?? (() => ({ id: 'anonymous' }) as P);
  const heartbeatMs = options.sseHeartbeatMs ?? 10_000;
  const sessions = new SessionTable(log, options.idleSessionTimeoutMs);
  const identities = new Map<McpEndpoint<P>, IdentityScopes<P, ModernIdentity>>();
  const publicRoutes = new Set(options.publicRoutes ?? []);
  let closing = false;

  const routes = new Map<string, Route<P>>();
  for (const endpoint of options.endpoints) {
    if (endpoint.streamablePath) routes.set(endpoint.streamablePath, { kind: 'streamable', endpoint });
    if (endpoint.sse) {
      routes.set(endpoint.sse.streamPath, { kind: 'sse-stream', endpoint });
      routes.set(endpoint.sse.messagePath, { kind: 'sse-message', endpoint });
    }
    const { openIdentity } = endpoint;
    if (openIdentity !== undefined) {
      const open = (principal: P) => openIdentity.call(endpoint, principal, endpoint.name ?? '');
      identities.set(endpoint, new IdentityScopes(open, log, options.idleIdentityTimeoutMs));
    }
  }

  async function openStreamable(
    endpoint: McpEndpoint<P>,
    principal: P,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ) {
    // The session is registered, and its server connected, before the initialize message is handled.
    const transport = new StreamableSessionTransport(randomUUID(), { keepAliveMs: heartbeatMs });
    const session = sessions.add({
      id: transport.sessionId,
      principalId: principal.id,
      kind: 'streamable-http',
      transport,
    });
    sessions.track(session, res);
    transport.onclose = () => void sessions.close(session);
    try {
      session.handle = await endpoint.openSession(transport, {
        sessionId: session.id,
        transport: 'streamable-http',
        principal,
        endpoint: endpoint.name ?? '',
      });
      await transport.handleRequest(req, res, body);
    } catch (err) {
      log.error({ err }, 'could not open MCP session');
      sendRpcError(res, 500, -32603, 'Could not open session');
      await sessions.close(session);
    }
  }

  async function serveLegacy(
    endpoint: McpEndpoint<P>,
    principal: P,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ) {
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId === undefined) {
      if (req.method === 'POST' && isInitializeRequest(body))
        return openStreamable(endpoint, principal, req, res, body);
      sendRpcError(res, 400, -32000, 'Bad Request: no valid session id, and not an initialize request');
      return;
    }
    // A session belongs to whoever opened it; another caller sees it as absent.
    const session = sessions.find(sessionId, principal.id);
    if (session === undefined || session.kind !== 'streamable-http') {
      sendRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    sessions.track(session, res);
    await (session.transport as StreamableSessionTransport).handleRequest(req, res, body);
  }

  async function serveModern(
    endpoint: McpEndpoint<P>,
    principal: P,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ) {
    const scopes = identities.get(endpoint);
    if (scopes === undefined) {
      sendUnsupportedModern(res, body);
      return;
    }
    const scope = await scopes.get(principal);
    scopes.track(scope, res);
    await scope.handle.serve(req, res, body);
  }

  async function serveRoute(route: Route<P>, principal: P, req: IncomingMessage, res: ServerResponse) {
    const { endpoint } = route;
    if (route.kind === 'sse-stream') {
      if (req.method !== 'GET') return sendRpcError(res, 405, -32000, 'Method not allowed');
      return openSseSession(
        sessions,
        {
          messagePath: endpoint.sse?.messagePath ?? '',
          principalId: principal.id,
          heartbeatMs,
          log,
          open: (transport, sessionId) =>
            endpoint.openSession(transport, {
              sessionId,
              transport: 'sse',
              principal,
              endpoint: endpoint.name ?? '',
            }),
        },
        res,
      );
    }
    const methods = route.kind === 'sse-message' ? ['POST'] : ['POST', 'GET', 'DELETE'];
    if (!methods.includes(req.method ?? '')) return sendRpcError(res, 405, -32000, 'Method not allowed');
    let body: unknown;
    if (req.method === 'POST') {
      body = await readJsonBody(req, res, limits);
      if (body === BODY_FAILED) return;
    }
    if (route.kind === 'sse-message') return postSseMessage(sessions, principal.id, req, res, body);
    if (endpoint.serve !== undefined)
      return endpoint.serve(req, res, { principal, body, endpoint: endpoint.name ?? '' });
    // The 2026 era has no sessions: a session id is 2025-era traffic whatever its body says.
    if (req.headers['mcp-session-id'] !== undefined || isLegacyHttpRequest(req, body))
      return serveLegacy(endpoint, principal, req, res, body);
    return serveModern(endpoint, principal, req, res, body);
  }

  function checkHeaders(req: IncomingMessage): string | undefined {
    return hostProblem(req.headers.host, allowedHosts) ?? originProblem(req.headers.origin, allowedOrigins);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const problem = checkHeaders(req);
    if (problem !== undefined) {
      log.warn({ host: req.headers.host, origin: req.headers.origin }, 'rejected by Host/Origin check');
      sendRpcError(res, 403, -32000, `Forbidden: ${problem}`);
      return;
    }
    // Origin passed the check above, so it may read the answers (the MQTTX server's CORS was open
    // to all; here only to the server's own and the configured origins).
    const origin = req.headers.origin;
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'mcp-session-id, www-authenticate');
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      // A CORS preflight never carries credentials, so it is answered before authentication.
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers':
          'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, last-event-id',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const app = options.apps?.find((a) => path === a.prefix || path.startsWith(`${a.prefix}/`));
    if (app !== undefined) return app.handle(req, res);
    const plain = options.routes?.[path];
    const route = routes.get(path);
    if ((plain === undefined && route === undefined) || isOAuthDiscoveryPath(path)) {
      sendJson(res, 404, { error: 'Not found' });
      return;
    }
    if (plain !== undefined && publicRoutes.has(path) && req.method === 'GET') return plain(req, res);
    const token = bearerTokenOf(req);
    const principal = await authenticate(token, req);
    if (principal === undefined) return sendUnauthorized(res, token !== undefined);
    if (plain !== undefined) {
      if (req.method === 'GET') return plain(req, res);
      return sendRpcError(res, 405, -32000, 'Method not allowed');
    }
    if (route !== undefined) await serveRoute(route, principal, req, res);
  }

  const server: Server = createServer((req, res) => {
    if (closing) {
      sendRpcError(res, 503, -32000, 'Server is shutting down');
      return;
    }
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'request failed');
      sendRpcError(res, 500, -32603, 'Internal error');
    });
  });
  // A client that stalls mid-request must not hold a socket forever.
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${normalizeHostname(bindHost)}:${port}`;
  for (const origin of originSet(ownOrigins(allowedHosts, port))) allowedOrigins.add(origin);
  for (const origin of configuredOrigins) allowedOrigins.add(origin);
  const paths = options.endpoints.flatMap((e) => [e.streamablePath, e.sse?.streamPath].filter(Boolean));
  log.info({ name: options.name, url, endpoints: paths.map((p) => `${url}${p}`) }, 'listening');

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    sessionCount: () => sessions.size,
    identityCount: () => [...identities.values()].reduce((n, scopes) => n + scopes.size, 0),
    close() {
      closed ??= (async () => {
        closing = true;
        await sessions.closeAll();
        await Promise.all([...identities.values()].map((scopes) => scopes.closeAll()));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}
