import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RawRequestContext } from '@bastion/mcp-http';
import type { GatewayMetrics } from '../metrics.js';
import type { Principal } from '../pipeline/context.js';
import type { StateStore } from '../store/store.js';
import {
  CancelledError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import { discoverWithoutTasks } from './agent-link.js';
import { checkLegacyPost, classifyHttp, type HttpEra, MODERN_REVISION } from './envelope.js';
import {
  ErrorCodes,
  errorMessage,
  type Id,
  isResponse,
  RpcFault,
  type RpcMessage,
  type RpcNotification,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
} from './jsonrpc.js';
import { LegacySessions } from './legacy-sessions.js';
import {
  type ChannelSession,
  type ChannelTransport,
  type InitializeParams,
  type LegacyRoute,
  listsChanges,
  ownerOf,
  type SessionEvents,
} from './legacy-types.js';
import { ListenStreams } from './listens.js';
import { AGENT_NOTIFICATIONS, handlingOf } from './methods.js';
import { governed } from './pushed.js';
import { type AgentChannel, ChannelReply, HttpReply, type Reply, writeJson } from './reply.js';
import type { AgentSession, SessionCaps } from './sessions.js';
import { type Caller, callTool, listTools, type ToolContext } from './tools.js';
import type { Upstream } from './upstream.js';

export interface CoreRoute extends LegacyRoute {
  /** The upstream of a 2026-era request from `principal` (the upstream itself, or a translation). */
  openModern(principal: Principal, request: RpcRequest): Promise<Upstream>;
}

export interface CoreOptions extends ToolContext {
  routes: ReadonlyMap<string, CoreRoute>;
  metrics: GatewayMetrics;
  store: StateStore;
  caps: SessionCaps;
  idleSessionMs?: number;
}

const SUPPORTED_LEGACY = new Set(['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']);

export function createForwardingCore(options: CoreOptions) {
  const { routes, logger } = options;
  const tc: ToolContext = options;
  const legacy = new LegacySessions({
    ...options,
    receive: (session, message, reply) => receive(session, message, reply),
    track: (work) => track(work),
    draining: () => draining,
  });
  const sessions = legacy.table;
  const listens = new ListenStreams();
  let draining = false;
  let busy = 0;
  let idle: (() => void) | undefined;
  const logSendError = (err: unknown) => logger.debug({ err }, 'could not write to the agent');

  /** The HTTP entry: every request of a server's Streamable HTTP path, after mcp-http's guards. */
  async function serveHttp(req: IncomingMessage, res: ServerResponse, raw: RawRequestContext<Principal>) {
    const route = routes.get(raw.endpoint);
    if (route === undefined)
      return writeJson(res, 404, JSON.stringify(errorMessage(null, -32000, 'Not found')));
    if (draining) return refuse(res, 503, ErrorCodes.ShuttingDown, 'the gateway is shutting down', null);
    // 1-2. Envelope and era, from the body first (headers are only cross-checked).
    const era = classifyHttp(req, raw.body);
    if (era.kind === 'reject') return writeJson(res, era.status, JSON.stringify(era.error));
    if (era.kind === 'modern') return serveModern(route, raw.principal, req, res, era);
    if (req.method === 'GET') return legacy.openStream(route, raw.principal, req, res);
    if (req.method === 'DELETE') return legacy.end(route, raw.principal, req, res);
    return serveLegacyPost(route, raw.principal, req, res, raw.body);
  }

  async function serveLegacyPost(
    route: CoreRoute,
    principal: Principal,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ) {
    const checked = checkLegacyPost(req, body);
    if (checked.kind === 'reject') return writeJson(res, checked.status, JSON.stringify(checked.error));
    const { messages, batch } = checked;
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined) {
      const first = messages[0];
      if (
        messages.length === 1 &&
        first !== undefined &&
        'method' in first &&
        first.method === 'initialize' &&
        'id' in first
      )
        return legacy.initializeHttp(route, principal, res, first as RpcRequest);
      return refuse(
        res,
        400,
        -32000,
        'Bad Request: no valid session id, and not an initialize request',
        null,
      );
    }
    // A session this process does not hold may be one another process recorded (store/store.ts).
    const session = await legacy.lookup(route, principal, sessionId);
    if (session === undefined || session.server !== route.name)
      return refuse(res, 404, -32001, 'Session not found', null);
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_LEGACY.has(version))
      return refuse(res, 400, -32000, `Bad Request: Unsupported protocol version: ${version}`, null);
    if (messages.some((m) => 'method' in m && m.method === 'initialize'))
      return refuse(res, 400, -32600, 'Invalid Request: Server already initialized', null);
    session.lastActive = Date.now();
    const ids = messages.filter((m): m is RpcRequest => 'method' in m && 'id' in m).map((m) => m.id);
    if (ids.length === 0) {
      res.writeHead(202).end();
      for (const message of messages) receive(session, message, undefined);
      return;
    }
    // 2025 era: a client that drops a POST's stream has not cancelled (the spec says so); only
    // notifications/cancelled does.
    const reply = new HttpReply(res, ids, batch, { 'mcp-session-id': session.id }, false);
    for (const message of messages) receive(session, message, reply);
  }

  /** A 2026-era request: no session; what it needs is in it, and who sent it is its principal. */
  async function serveModern(
    route: CoreRoute,
    principal: Principal,
    req: IncomingMessage,
    res: ServerResponse,
    era: Extract<HttpEra, { kind: 'modern' }>,
  ) {
    // The 2026 era defines no client notifications over HTTP: accepted, and nothing to do.
    if (!('id' in era.message)) return void res.writeHead(202).end();
    const request = era.message as RpcRequest;
    if (era.revision !== MODERN_REVISION)
      return refuse(
        res,
        400,
        ErrorCodes.UnsupportedProtocolVersion,
        'Unsupported protocol version',
        request.id,
        {
          supported: [MODERN_REVISION],
          requested: era.revision ?? 'unknown',
        },
      );
    let upstream: Upstream;
    try {
      upstream = await route.openModern(principal, request);
    } catch (err) {
      return refuse(res, 503, ErrorCodes.UpstreamUnavailable, (err as Error).message, request.id);
    }
    const caller: Caller = {
      era: 'modern',
      route,
      principal,
      sessionId: `grant:${principal.id}`,
      upstream,
      session: undefined,
      headers: paramHeaders(req),
    };
    const reply = new HttpReply(res, [request.id], false);
    if (request.method === 'subscriptions/listen')
      return listens.open(
        caller,
        request,
        reply,
        governed(tc, caller.principal, caller.route.name, (wire) => reply.related(wire)),
        (err) => answerFailure(reply, request.id, err),
      );
    await track(dispatch(caller, request, reply));
  }

  /** One message of a 2025-era session, whichever way it came (HTTP POST or channel). */
  function receive(session: AgentSession, message: RpcMessage, reply: Reply | undefined): void {
    const upstream = session.upstream;
    if (upstream === undefined) return;
    if (isResponse(message)) {
      // The agent's answer to a server-to-client request: the gateway's own (an approval), or the upstream's.
      if (session.asked?.settle(message)) return;
      upstream.respond(message);
      return;
    }
    if (!('id' in message)) {
      notification(session, upstream, message);
      return;
    }
    const request = message as RpcRequest;
    const answerTo = reply ?? new ChannelReply(session.channel as AgentChannel, logSendError);
    // Issue 14 item 5: a second request with an id still in flight is refused; the first still gets its answer.
    if (session.inflight.has(request.id)) {
      answerTo.answer(request.id, {
        msg: errorMessage(
          request.id,
          -32600,
          `Invalid Request: request id ${String(request.id)} is already in flight`,
        ),
      });
      return;
    }
    session.inflight.set(request.id, answerTo);
    const caller: Caller = {
      era: 'legacy',
      route: routeOf(session),
      principal: ownerOf(session),
      sessionId: session.id,
      upstream,
      session,
    };
    track(dispatch(caller, request, answerTo)).finally(() => {
      if (session.inflight.get(request.id) === answerTo) session.inflight.delete(request.id);
      session.lastActive = Date.now();
    });
  }

  function notification(session: AgentSession, upstream: Upstream, note: RpcNotification): void {
    if (note.method === 'notifications/cancelled') {
      const id = note.params?.requestId as Id | undefined;
      if (id !== undefined) session.inflight.get(id)?.cancel(id, String(note.params?.reason ?? 'cancelled'));
      return;
    }
    if (AGENT_NOTIFICATIONS.has(note.method)) upstream.notify(note);
  }

  // 3-4. Route by the method table: the pipeline, a filtered list, a local answer, or pass-through.
  async function dispatch(caller: Caller, request: RpcRequest, reply: Reply): Promise<void> {
    const capabilities = caller.upstream.init?.capabilities;
    const spec = handlingOf(request.method, capabilities, caller.era);
    if (spec === undefined) {
      // The 2026 era answers an unknown method with 404 (Streamable HTTP, "Protocol Version Header").
      const status = caller.era === 'modern' ? 404 : undefined;
      reply.answer(request.id, {
        msg: errorMessage(request.id, -32601, 'Method not found'),
        ...(status ? { status } : {}),
      });
      return;
    }
    switch (spec.handling) {
      case 'call':
        return callTool(tc, caller, request, reply);
      case 'list-tools':
        return new Promise<void>((done) => {
          listTools(tc, caller, request, afterAnswer(reply, done), (err) => {
            answerFailure(reply, request.id, err);
            done();
          });
        });
      case 'ping':
        reply.answer(request.id, { msg: resultMessage(request.id, {}) });
        return;
      default:
        return pass(caller, request, reply, spec.handling);
    }
  }

  /** Forwarded untouched; reads are sent once more on a new upstream session if the first was lost. */
  function pass(
    caller: Caller,
    request: RpcRequest,
    reply: Reply,
    handling: string,
    retry = true,
  ): Promise<void> {
    return new Promise<void>((done) => {
      caller.upstream.request(
        request,
        {
          related: governed(tc, caller.principal, caller.route.name, (wire) => reply.related(wire)),
          final: (wire) => {
            legacy.remember(caller.session, request, handling, wire.msg as RpcResponse);
            reply.answer(request.id, handling === 'discover' ? discoverWithoutTasks(wire) : wire);
            done();
          },
          fail: (err) => {
            if (retry && err instanceof UpstreamLostError && !reply.signal.aborted) {
              pass(caller, request, reply, handling, false).then(done);
              return;
            }
            answerFailure(reply, request.id, err);
            done();
          },
        },
        reply.signal,
        caller.headers === undefined ? undefined : { headers: caller.headers },
      );
    });
  }

  function answerFailure(reply: Reply, id: Id, err: unknown): void {
    if (err instanceof CancelledError) return;
    let error = errorMessage(id, -32603, 'Internal error');
    if (err instanceof RpcFault) error = errorMessage(id, err.code, err.message, err.data);
    else if (err instanceof UpstreamLostError)
      error = errorMessage(id, -32603, `upstream restarted, request not completed: ${err.message}`);
    else if (err instanceof UpstreamUnavailableError)
      error = errorMessage(id, ErrorCodes.UpstreamUnavailable, err.message);
    else if (err instanceof UpstreamTimeoutError)
      error = errorMessage(id, ErrorCodes.RequestTimeout, err.message);
    else logger.error({ err }, 'request failed in the gateway');
    reply.answer(id, { msg: error });
  }

  function track<T>(work: Promise<T>): Promise<T> {
    busy++;
    return work.finally(() => {
      busy--;
      if (busy === 0) idle?.();
    });
  }

  return {
    serveHttp,
    openChannel: legacy.openChannel.bind(legacy),
    /** Tells the agents of `server` that the tools they may call changed (a policy reload). */
    toolsChanged(server: string): void {
      for (const session of sessions.forServer(server))
        if (listsChanges(session.upstream)) legacy.pushToolsChanged(session);
      listens.toolsChanged(server);
    },
    sessionCount: () => sessions.size,
    /** Requests being served now (a 2026-era listen stream is not one). */
    inFlight: () => busy,
    /** Stops taking requests, lets those in flight finish (at most `graceMs`), and closes. */
    async drain(graceMs: number): Promise<void> {
      draining = true;
      const deadline = Date.now() + graceMs;
      while (busy > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          idle = resolve;
          setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now()))).unref();
        });
      }
    },
    async close(): Promise<void> {
      draining = true;
      await legacy.closeAll();
      listens.closeAll();
    },
  };

  function routeOf(session: AgentSession): CoreRoute {
    return routes.get(session.server) as CoreRoute;
  }
}

export type ForwardingCore = ReturnType<typeof createForwardingCore>;
export type { ChannelSession, ChannelTransport, InitializeParams, SessionEvents };

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function refuse(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  id: Id | null,
  data?: unknown,
) {
  writeJson(res, status, JSON.stringify(errorMessage(id, code, message, data)));
}

/** The agent's `Mcp-Param-*` headers, which an intermediary passes on (SEP-2243). */
function paramHeaders(req: IncomingMessage): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    // Mcp-Param-* mirror the call's arguments; the W3C trace context goes on to the upstream too.
    if (
      (name.startsWith('mcp-param-') || name === 'traceparent' || name === 'tracestate') &&
      typeof value === 'string'
    ) {
      found ??= {};
      found[name] = value;
    }
  }
  return found;
}

/** A reply that also says when its (single) answer went out. */
function afterAnswer(reply: Reply, done: () => void): Reply {
  return {
    related: (wire) => reply.related(wire),
    answer: (id, wire) => {
      reply.answer(id, wire);
      done();
    },
    cancel: (id, reason) => reply.cancel(id, reason),
    get signal() {
      return reply.signal;
    },
  };
}
