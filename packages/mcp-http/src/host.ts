/**
 * Hosts MCP sessions over HTTP on plain node:http: Streamable HTTP (one transport per session, routed
 * by the `mcp-session-id` header) and the legacy HTTP+SSE transport (GET opens a stream, POST
 * `?sessionId=` carries messages), on one port, behind the checks every Bastion HTTP server applies:
 *
 *   1. Host and Origin must name this server (DNS-rebinding protection; node:http has none).
 *   2. A bearer token, when one is configured (401 otherwise).
 *   3. Request bodies are read with a size limit (413 beyond it).
 *
 * Written here once because the MQTT server, the SSH server and the gateway all need exactly this,
 * and the SDK ships the transports but not the routing, sessions or checks around them.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import { sendJson, sendRpcError } from './responses.js';
import { StreamableSessionTransport } from './streamable-session.js';

/** Who is calling, as decided by `authenticate`. `id` binds a session to the caller that opened it. */
export interface Principal {
  id: string;
}

export interface SessionInfo<P extends Principal> {
  sessionId: string;
  transport: 'streamable-http' | 'sse';
  principal: P;
  /** The endpoint's name, e.g. a gateway's server name; '' for a server with one endpoint. */
  endpoint: string;
}

/** What an endpoint returns for a new session: the owner of everything that session holds. */
export interface SessionHandle {
  close(): Promise<void>;
}

export interface McpEndpoint<P extends Principal> {
  name?: string;
  /** Streamable HTTP path, e.g. `/mcp`. */
  streamablePath?: string;
  /** Legacy HTTP+SSE paths, e.g. `{ streamPath: '/mqttx/sse', messagePath: '/mqttx/message' }`. */
  sse?: { streamPath: string; messagePath: string };
  /** Connects a fresh MCP server (or proxy) to `transport`. Called once per session. */
  openSession(transport: Transport, info: SessionInfo<P>): Promise<SessionHandle>;
}

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
  authenticate?: (token: string | undefined, req: IncomingMessage) => P | undefined | Promise<P | undefined>;
  /** Host names (no port) accepted in `Host`; default: loopback names and the bind host. */
  allowedHosts?: ReadonlyArray<string>;
  /**
   * Origins (`scheme://host[:port]`) whose pages may call this server, besides the server's own
   * (`http://<allowed host>:<port>`). A request with any other `Origin`, `null` included, is refused
   * with 403; a request without `Origin` does not come from a web page and is not refused for it.
   */
  allowedOrigins?: ReadonlyArray<string>;
  /** Largest accepted request body. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Plain GET routes outside MCP (e.g. `/healthz`); they pass the same Host and auth checks unless public. */
  routes?: Readonly<Record<string, RouteHandler>>;
  /** Routes that skip authentication (still Host-checked), e.g. `/healthz`. */
  publicRoutes?: ReadonlyArray<string>;
  /**
   * Interval of SSE comment heartbeats on event streams (legacy SSE, as the MQTTX server's 10 s, and
   * Streamable HTTP's POST and GET streams). Default 10 s.
   */
  sseHeartbeatMs?: number;
  /**
   * A Streamable HTTP session with no request in flight and none for this long is closed, so that
   * clients that vanish without a DELETE do not hold their session (and its broker or SSH
   * connections) forever. Legacy SSE sessions end with their stream instead. Default 30 minutes.
   */
  idleSessionTimeoutMs?: number;
  logger: Logger;
  /** Name used in the listening log line. */
  name: string;
}

export interface McpHttpHost {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  readonly port: number;
  /** Open MCP sessions across all endpoints. */
  sessionCount(): number;
  /** Closes every session, then the listener. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];
const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

/** A bearer-token check that takes the same time whatever the token (compares fixed-size digests). */
export function bearerTokenAuthenticator(
  expected: string,
): (token: string | undefined) => Principal | undefined {
  const want = createHash('sha256').update(expected).digest();
  return (token) => {
    if (token === undefined) return undefined;
    const got = createHash('sha256').update(token).digest();
    return timingSafeEqual(got, want) ? { id: 'token' } : undefined;
  };
}

interface LiveSession {
  id: string;
  principalId: string;
  transport: StreamableSessionTransport | SSEServerTransport;
  handle: SessionHandle | undefined;
  closed: boolean;
  /** Requests (including a long-lived GET stream) still open on this session. */
  inFlight: number;
  lastActive: number;
}

/**
 * The form origins are compared in: `URL.origin` for http(s) (lower case, default port dropped), the
 * text itself, lower-cased and without a trailing slash, for other schemes (`app://.`), whose
 * `URL.origin` is the opaque `null`. Undefined for `null` and for text that is not an origin.
 */
export function normalizeOrigin(origin: string): string | undefined {
  if (origin.trim().toLowerCase() === 'null') return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return origin.trim().toLowerCase().replace(/\/$/, '');
}

function hostnameOf(hostHeader: string): string {
  // `[::1]:4000` -> `[::1]`, `localhost:4000` -> `localhost`.
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1).toLowerCase();
  return (hostHeader.split(':')[0] ?? '').toLowerCase();
}

export async function startMcpHttpHost<P extends Principal = Principal>(
  options: McpHttpHostOptions<P>,
): Promise<McpHttpHost> {
  const bindHost = options.host ?? '127.0.0.1';
  const log = options.logger;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const allowed = new Set(
    (options.allowedHosts ?? [...LOOPBACK_NAMES, bindHost]).map((h) => h.toLowerCase()),
  );
  const authenticate =
    options.authenticate ?? ((() => ({ id: 'anonymous' }) as P) as NonNullable<typeof options.authenticate>);
  const configuredOrigins = new Set<string>();
  for (const origin of options.allowedOrigins ?? []) {
    const normalized = normalizeOrigin(origin);
    if (normalized === undefined)
      throw new Error(`allowed origin '${origin}' is not an origin (never 'null')`);
    configuredOrigins.add(normalized);
  }
  /** Filled once the port is known: the server's own origins, then the configured ones. */
  const allowedOrigins = new Set<string>();
  const sessions = new Map<string, LiveSession>();
  const publicRoutes = new Set(options.publicRoutes ?? []);
  let closing = false;

  const byStreamablePath = new Map<string, McpEndpoint<P>>();
  const bySsePath = new Map<string, McpEndpoint<P>>();
  const byMessagePath = new Map<string, McpEndpoint<P>>();
  for (const endpoint of options.endpoints) {
    if (endpoint.streamablePath) byStreamablePath.set(endpoint.streamablePath, endpoint);
    if (endpoint.sse) {
      bySsePath.set(endpoint.sse.streamPath, endpoint);
      byMessagePath.set(endpoint.sse.messagePath, endpoint);
    }
  }

  async function closeSession(session: LiveSession): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    sessions.delete(session.id);
    try {
      await session.handle?.close();
    } catch (err) {
      log.warn({ err, sessionId: session.id }, 'session close failed');
    }
    try {
      await session.transport.close();
    } catch {
      // Already closed by the peer; nothing left to release.
    }
    log.debug({ sessionId: session.id }, 'session closed');
  }

  /** Counts a request as activity on its session until its response closes. */
  function track(session: LiveSession, res: ServerResponse): void {
    session.inFlight++;
    session.lastActive = Date.now();
    res.once('close', () => {
      session.inFlight--;
      session.lastActive = Date.now();
    });
  }

  const idleTimeoutMs = options.idleSessionTimeoutMs ?? 30 * 60_000;
  const idleSweep = setInterval(
    () => {
      const now = Date.now();
      for (const session of sessions.values()) {
        if (!(session.transport instanceof StreamableSessionTransport)) continue;
        if (session.inFlight === 0 && now - session.lastActive >= idleTimeoutMs) {
          log.info({ sessionId: session.id }, 'closing idle session');
          void closeSession(session);
        }
      }
    },
    Math.max(10, Math.min(idleTimeoutMs / 4, 60_000)),
  );
  idleSweep.unref();

  function checkHost(req: IncomingMessage): string | undefined {
    const host = req.headers.host;
    if (host === undefined || !allowed.has(hostnameOf(host))) return `Host '${host ?? ''}' is not allowed`;
    // Spec (transports, "Security Warning"): servers MUST validate Origin and answer 403 when it is
    // present and invalid. Only exact configured origins pass: `null` (sandboxed iframes, file://
    // pages), extensions and pages on other ports of this machine are all web content that must not
    // drive a server running without a token.
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const normalized = normalizeOrigin(origin);
      if (normalized === undefined || !allowedOrigins.has(normalized))
        return `Origin '${origin}' is not allowed`;
    }
    return undefined;
  }

  async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown | typeof FAILED> {
    let raw: string;
    try {
      raw = await getRawBody(req, { limit: maxBody, encoding: 'utf8' });
    } catch (err) {
      const tooLarge = (err as { type?: string }).type === 'entity.too.large';
      if (tooLarge) sendRpcError(res, 413, -32600, `Request body exceeds ${maxBody} bytes`);
      else sendRpcError(res, 400, -32700, 'Could not read request body');
      if (tooLarge) req.resume();
      return FAILED;
    }
    try {
      return JSON.parse(raw);
    } catch {
      sendRpcError(res, 400, -32700, 'Parse error: body is not JSON');
      return FAILED;
    }
  }

  async function handleStreamable(
    endpoint: McpEndpoint<P>,
    principal: P,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    let body: unknown;
    if (req.method === 'POST') {
      body = await readJsonBody(req, res);
      if (body === FAILED) return;
    }
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      // A session belongs to whoever opened it; another caller sees it as absent.
      if (session === undefined || session.principalId !== principal.id || session.closed) {
        sendRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      track(session, res);
      await (session.transport as StreamableSessionTransport).handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      sendRpcError(res, 400, -32000, 'Bad Request: no valid session id, and not an initialize request');
      return;
    }
    // The session is registered, and its server connected, before the initialize message is handled.
    const id = randomUUID();
    const transport = new StreamableSessionTransport(id, { keepAliveMs: options.sseHeartbeatMs ?? 10_000 });
    const session: LiveSession = {
      id,
      principalId: principal.id,
      transport,
      handle: undefined,
      closed: false,
      inFlight: 0,
      lastActive: Date.now(),
    };
    sessions.set(id, session);
    track(session, res);
    transport.onclose = () => void closeSession(session);
    try {
      session.handle = await endpoint.openSession(transport, {
        sessionId: id,
        transport: 'streamable-http',
        principal,
        endpoint: endpoint.name ?? '',
      });
      await transport.handleRequest(req, res, body);
    } catch (err) {
      log.error({ err }, 'could not open MCP session');
      sendRpcError(res, 500, -32603, 'Could not open session');
      await closeSession(session);
    }
  }

  async function handleSseStream(
    endpoint: McpEndpoint<P>,
    principal: P,
    _req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const messagePath = endpoint.sse?.messagePath ?? '';
    const transport = new SSEServerTransport(messagePath, res);
    const session: LiveSession = {
      id: transport.sessionId,
      principalId: principal.id,
      transport,
      handle: undefined,
      closed: false,
      inFlight: 0,
      lastActive: Date.now(),
    };
    sessions.set(session.id, session);
    const heartbeatMs = options.sseHeartbeatMs ?? 10_000;
    const heartbeat = setInterval(() => {
      // An SSE comment line: ignored by clients, keeps idle proxies from cutting the stream.
      if (!res.writableEnded) res.write(': ping\n\n');
    }, heartbeatMs);
    heartbeat.unref();
    const done = () => {
      clearInterval(heartbeat);
      void closeSession(session);
    };
    res.on('close', done);
    transport.onclose = done;
    try {
      session.handle = await endpoint.openSession(transport, {
        sessionId: session.id,
        transport: 'sse',
        principal,
        endpoint: endpoint.name ?? '',
      });
    } catch (err) {
      log.error({ err }, 'could not open MCP session');
      done();
      if (!res.headersSent) sendRpcError(res, 500, -32603, 'Could not open session');
      else res.end();
    }
  }

  async function handleSseMessage(principal: P, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const sessionId = url.searchParams.get('sessionId');
    if (!sessionId) {
      sendRpcError(res, 400, -32000, 'Missing sessionId parameter');
      return;
    }
    const session = sessions.get(sessionId);
    if (session === undefined || session.principalId !== principal.id || session.closed) {
      sendRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    const body = await readJsonBody(req, res);
    if (body === FAILED) return;
    await (session.transport as SSEServerTransport).handlePostMessage(req, res, body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostProblem = checkHost(req);
    if (hostProblem !== undefined) {
      log.warn({ host: req.headers.host, origin: req.headers.origin }, 'rejected by Host/Origin check');
      sendRpcError(res, 403, -32000, `Forbidden: ${hostProblem}`);
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
          'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = options.routes?.[path];
    if (route !== undefined && publicRoutes.has(path) && req.method === 'GET') {
      await route(req, res);
      return;
    }
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : undefined;
    const principal = await authenticate(token, req);
    if (principal === undefined) {
      sendRpcError(res, 401, -32001, 'Unauthorized: a valid bearer token is required', {
        'www-authenticate': 'Bearer',
      });
      return;
    }
    if (route !== undefined && req.method === 'GET') {
      await route(req, res);
      return;
    }
    const streamable = byStreamablePath.get(path);
    if (streamable !== undefined) {
      if (req.method === 'POST' || req.method === 'GET' || req.method === 'DELETE') {
        await handleStreamable(streamable, principal, req, res);
      } else sendRpcError(res, 405, -32000, 'Method not allowed');
      return;
    }
    const sse = bySsePath.get(path);
    if (sse !== undefined && req.method === 'GET') {
      await handleSseStream(sse, principal, req, res);
      return;
    }
    if (byMessagePath.has(path) && req.method === 'POST') {
      await handleSseMessage(principal, req, res);
      return;
    }
    sendJson(res, 404, { error: 'Not found' });
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
  const urlHost = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  const url = `http://${urlHost}:${port}`;
  for (const name of allowed) {
    const own = normalizeOrigin(
      `http://${name.includes(':') && !name.startsWith('[') ? `[${name}]` : name}:${port}`,
    );
    if (own !== undefined) allowedOrigins.add(own);
  }
  for (const origin of configuredOrigins) allowedOrigins.add(origin);
  const paths = options.endpoints.flatMap((e) => [e.streamablePath, e.sse?.streamPath].filter(Boolean));
  log.info({ name: options.name, url, endpoints: paths.map((p) => `${url}${p}`) }, 'listening');

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    sessionCount: () => sessions.size,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(idleSweep);
        await Promise.all([...sessions.values()].map((s) => closeSession(s)));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

const FAILED = Symbol('failed');
