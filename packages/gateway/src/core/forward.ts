/**
 * The forwarding core. Every agent message takes the same way through this file:
 *
 *   1. envelope: what the message is (request, notification, answer), its id and method, read once;
 *   2. era: a 2025-era session (`Mcp-Session-Id`, `initialize`) or a 2026-era request (its
 *      per-request `_meta` envelope); the upstream's own era is the era layer's business (era/);
 *   3. route: the method table (methods.ts) says what the gateway does with the method;
 *   4. pipeline or pass-through: `tools/call` runs the call pipeline, `tools/list` is filtered
 *      (tools.ts); everything else goes to the upstream untouched and in order;
 *   5. write once: the answer leaves in one write (reply.ts), unless something related had to go
 *      first, in which case the answer became an event stream.
 *
 * There is no SDK Client or Server per session: messages are moved, not re-implemented.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RawRequestContext } from '@bastion/mcp-http';
import { SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server';
import type { GatewayMetrics } from '../metrics.js';
import type { Principal } from '../pipeline/context.js';
import type { StateStore } from '../store/store.js';
import {
  CancelledError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import { checkLegacyPost, classifyHttp, type HttpEra, MODERN_REVISION } from './envelope.js';
import {
  ErrorCodes,
  errorMessage,
  type Id,
  isResponse,
  kindOf,
  RpcFault,
  type RpcMessage,
  type RpcNotification,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
} from './jsonrpc.js';
import { AGENT_NOTIFICATIONS, handlingOf } from './methods.js';
import { type AgentChannel, ChannelReply, EventStream, HttpReply, type Reply, writeJson } from './reply.js';
import { AgentSession, type SessionCaps, type SessionOwner, SessionTable } from './sessions.js';
import { type Caller, callTool, catalogOf, listTools, type ServerRoute, type ToolContext } from './tools.js';
import type { Upstream } from './upstream.js';

export interface CoreRoute extends ServerRoute {
  /** Opens the upstream for a new 2025-era session (a link, or the era translation in front of it). */
  openLegacy(session: AgentSession, init: InitializeParams, events: SessionEvents): Promise<Upstream>;
  /** The upstream of a 2026-era request from `principal` (the upstream itself, or a translation). */
  openModern(principal: Principal): Promise<Upstream>;
}

export interface InitializeParams {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: { name: string; version: string; [key: string]: unknown };
}

/** What the upstream side tells a session. */
export interface SessionEvents {
  /** A message for the agent outside any request. */
  push(wire: { msg: RpcMessage; text?: string }): void;
  /** The upstream's tool list changed. */
  toolsChanged(): void;
  /** A new upstream session replaced a lost one. */
  reconnected(upstream: Upstream): Promise<void>;
}

export interface CoreOptions extends ToolContext {
  routes: ReadonlyMap<string, CoreRoute>;
  metrics: GatewayMetrics;
  store: StateStore;
  caps: SessionCaps;
  idleSessionMs?: number;
}

/** An open 2026-era `subscriptions/listen` stream through the gateway. */
interface Listener {
  reply: Reply;
  id: Id;
  /** It asked for tool-list changes (a policy reload is one, for the agent). */
  tools: boolean;
}

/** A message channel an agent is on (the SDK's Transport shape). */
export interface ChannelTransport extends AgentChannel {
  start(): Promise<void>;
  close(): Promise<void>;
  // Method signatures: the SDKs' transports (typed with their own message types) fit as they are.
  onmessage?(message: RpcMessage): void;
  onclose?(): void;
  onerror?(error: Error): void;
}

export interface ChannelSession {
  readonly id: string;
  close(): Promise<void>;
}

const SUPPORTED_LEGACY = new Set(['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']);

export function createForwardingCore(options: CoreOptions) {
  const { routes, logger, metrics } = options;
  const sessions = new SessionTable(
    options.caps,
    logger,
    (s, why) => void closeSession(s, why),
    options.idleSessionMs,
  );
  const tc: ToolContext = options;
  const listeners = new Map<string, Set<Listener>>();
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
    if (req.method === 'GET') return openStream(route, raw.principal, req, res);
    if (req.method === 'DELETE') return endSession(raw.principal, req, res);
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
        return initializeHttp(route, principal, res, first as RpcRequest);
      return refuse(
        res,
        400,
        -32000,
        'Bad Request: no valid session id, and not an initialize request',
        null,
      );
    }
    const session = sessions.find(sessionId, principal.id);
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
      upstream = await route.openModern(principal);
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
    if (request.method === 'subscriptions/listen') return listen(caller, request, reply);
    await track(dispatch(caller, request, reply));
  }

  /** A listen stream: passed through as it is, and told of tool-list changes the policy makes. */
  function listen(caller: Caller, request: RpcRequest, reply: Reply): void {
    const filter = request.params?.notifications as { toolsListChanged?: unknown } | undefined;
    const entry: Listener = { reply, id: request.id, tools: filter?.toolsListChanged === true };
    let set = listeners.get(caller.route.name);
    if (set === undefined) {
      set = new Set();
      listeners.set(caller.route.name, set);
    }
    const open = set;
    open.add(entry);
    const done = () => open.delete(entry);
    reply.signal.addEventListener('abort', done, { once: true });
    caller.upstream.request(
      request,
      {
        related: (wire) => reply.related(wire),
        final: (wire) => {
          done();
          reply.answer(request.id, wire);
        },
        fail: (err) => {
          done();
          answerFailure(reply, request.id, err);
        },
      },
      reply.signal,
      { ...(caller.headers === undefined ? {} : { headers: caller.headers }), longLived: true },
    );
  }

  /** One message of a 2025-era session, whichever way it came (HTTP POST or channel). */
  function receive(session: AgentSession, message: RpcMessage, reply: Reply | undefined): void {
    const upstream = session.upstream;
    if (upstream === undefined) return;
    if (isResponse(message)) {
      upstream.respond(message); // the agent's answer to a server-to-client request
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
          related: (wire) => reply.related(wire),
          final: (wire) => {
            remember(caller.session, request, handling, wire.msg as RpcResponse);
            reply.answer(request.id, wire);
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

  /** What a session set up upstream, replayed when its upstream session is replaced. */
  function remember(
    session: AgentSession | undefined,
    request: RpcRequest,
    handling: string,
    answer: RpcResponse,
  ) {
    if (session === undefined || answer.error !== undefined) return;
    const params = request.params ?? {};
    if (handling === 'set-level' && typeof params.level === 'string') session.logLevel = params.level;
    if (handling === 'subscribe' && typeof params.uri === 'string') {
      session.subscriptions ??= new Set();
      session.subscriptions.add(params.uri);
    }
    if (handling === 'unsubscribe' && typeof params.uri === 'string')
      session.subscriptions?.delete(params.uri);
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

  // 2025-era sessions: opened by initialize, listened to by GET, ended by DELETE or idleness.

  async function initializeHttp(
    route: CoreRoute,
    principal: Principal,
    res: ServerResponse,
    request: RpcRequest,
  ) {
    const session = new AgentSession(randomUUID(), route.name, ownerFrom(principal), undefined, Date.now());
    const answer = await initialize(route, session, request);
    if ('refusal' in answer)
      return writeJson(
        res,
        answer.refusal.status,
        JSON.stringify(answer.refusal.error),
        answer.refusal.headers,
      );
    writeJson(
      res,
      200,
      JSON.stringify(answer.response),
      answer.response.error === undefined ? { 'mcp-session-id': session.id } : {},
    );
  }

  type InitAnswer =
    | { response: RpcResponse }
    | { refusal: { status: number; error: RpcResponse; headers?: Record<string, string> } };

  /** Opens the session's upstream and answers initialize with what the upstream presents. */
  async function initialize(
    route: CoreRoute,
    session: AgentSession,
    request: RpcRequest,
  ): Promise<InitAnswer> {
    const id = request.id;
    const init = initializeParams(request.params);
    if (init === undefined)
      return { response: errorMessage(id, -32602, 'Invalid params: not an initialize request') };
    const admission = sessions.admit(session.owner);
    if (!admission.ok) {
      const what = admission.scope === 'grant' ? 'this grant' : 'the gateway';
      metrics.sessionRefusals.inc({ server: route.name, scope: admission.scope });
      return {
        refusal: {
          status: admission.scope === 'grant' ? 429 : 503,
          headers: { 'retry-after': '5' },
          error: errorMessage(
            id,
            ErrorCodes.SessionLimit,
            `too many sessions: ${what} holds ${admission.limit}, the most it may; close one first`,
            {
              code: 'SESSION_LIMIT',
              scope: admission.scope,
              limit: admission.limit,
            },
          ),
        },
      };
    }
    const refused = route.runtime.refusal();
    if (refused !== undefined) return { response: errorMessage(id, -32603, refused) };
    sessions.add(session);
    metrics.activeSessions.inc({ server: route.name });
    let upstream: Upstream;
    try {
      upstream = await route.openLegacy(session, init, eventsFor(session));
    } catch (err) {
      abandon(session);
      logger.warn({ server: route.name, reason: (err as Error).message }, 'agent session not initialized');
      return { response: errorMessage(id, -32603, (err as Error).message) };
    }
    const presented = upstream.init;
    // The first session of a server learns its tools, so that the policy's args.* paths are checked
    // before any call is decided (later sessions share the list, and list again only on a change).
    if (route.catalogs.current === undefined) {
      const caller: Caller = {
        era: 'legacy',
        route,
        principal: ownerOf(session),
        sessionId: session.id,
        upstream,
        session,
      };
      await catalogOf(caller).catch((err: unknown) =>
        logger.debug({ err }, 'could not list the upstream tools'),
      );
    }
    const refusedNow = route.runtime.refusal();
    if (presented === undefined || refusedNow !== undefined || session.closed) {
      abandon(session);
      await upstream.close(true);
      return { response: errorMessage(id, -32603, refusedNow ?? 'upstream not initialized') };
    }
    session.upstream = upstream;
    // A channel agent always listens; an HTTP agent does while it holds its GET stream.
    if (session.listening) upstream.listen(true);
    const { tasks: _tasks, ...capabilities } = presented.capabilities;
    return { response: resultMessage(id, { ...presented, capabilities }) };
  }

  function eventsFor(session: AgentSession): SessionEvents {
    return {
      push: (wire) => session.push(wire, logSendError),
      toolsChanged: () => {
        session.catalogStale = true;
      },
      reconnected: async (upstream) => {
        metrics.upstreamReconnects.inc({ server: session.server });
        session.catalogStale = true;
        if (session.logLevel !== undefined)
          await upstream.call('logging/setLevel', { level: session.logLevel });
        for (const uri of session.subscriptions ?? []) await upstream.call('resources/subscribe', { uri });
        // The new upstream session may offer other tools: the agent may list again.
        if ((upstream.init?.capabilities?.tools as { listChanged?: boolean } | undefined)?.listChanged)
          session.push({ msg: { jsonrpc: '2.0', method: 'notifications/tools/list_changed' } }, logSendError);
      },
    };
  }

  function openStream(route: CoreRoute, principal: Principal, req: IncomingMessage, res: ServerResponse) {
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined)
      return refuse(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required', null);
    const session = sessions.find(sessionId, principal.id);
    if (session === undefined || session.server !== route.name)
      return refuse(res, 404, -32001, 'Session not found', null);
    if (!(req.headers.accept ?? '').includes('text/event-stream'))
      return refuse(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream', null);
    if (session.stream?.open)
      return refuse(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session', null);
    const stream = new EventStream(res, { 'mcp-session-id': session.id });
    session.stream = stream;
    session.upstream?.listen(true);
    stream.signal.addEventListener('abort', () => {
      if (session.stream !== stream) return;
      session.stream = undefined;
      session.lastActive = Date.now();
      session.upstream?.listen(false);
    });
  }

  async function endSession(principal: Principal, req: IncomingMessage, res: ServerResponse) {
    const sessionId = header(req, 'mcp-session-id');
    const session = sessionId === undefined ? undefined : sessions.find(sessionId, principal.id);
    if (session === undefined) return refuse(res, 404, -32001, 'Session not found', null);
    await closeSession(session, 'ended by the agent');
    res.writeHead(200).end();
  }

  /** Takes a session out of the table (and the metric) without touching its upstream. */
  function abandon(session: AgentSession): void {
    if (sessions.remove(session)) metrics.activeSessions.dec({ server: session.server });
  }

  async function closeSession(session: AgentSession, why: string): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    abandon(session);
    logger.debug({ session: session.id, why }, 'session closed');
    session.stream?.end();
    await session.upstream?.close(true);
  }

  // Channel agents (legacy SSE, stdio, in memory): one channel, every message on it.

  async function openChannel(
    server: string,
    channel: ChannelTransport,
    o: { sessionId?: string; principal: Principal; closeOnInitializeFailure?: boolean },
  ): Promise<ChannelSession> {
    const route = routes.get(server);
    if (route === undefined) throw new Error(`no server named '${server}'`);
    const session = new AgentSession(
      o.sessionId ?? randomUUID(),
      server,
      ownerFrom(o.principal),
      channel,
      Date.now(),
    );
    const close = () => closeSession(session, 'channel closed');
    channel.onclose = () => void close();
    channel.onmessage = (message) => {
      if (draining && kindOf(message) === 'request') {
        const id = (message as RpcRequest).id;
        channel
          .send(errorMessage(id, ErrorCodes.ShuttingDown, 'the gateway is shutting down'))
          .catch(logSendError);
        return;
      }
      if (session.upstream !== undefined) return receive(session, message, undefined);
      void beforeInitialize(route, session, message, o.closeOnInitializeFailure ?? true);
    };
    await channel.start();
    return { id: session.id, close };
  }

  async function beforeInitialize(
    route: CoreRoute,
    session: AgentSession,
    message: RpcMessage,
    closeOnFailure: boolean,
  ) {
    const channel = session.channel as ChannelTransport;
    if (kindOf(message) !== 'request') return;
    const request = message as RpcRequest;
    if (request.method !== 'initialize') {
      const answer =
        request.method === 'ping'
          ? resultMessage(request.id, {})
          : errorMessage(request.id, -32600, 'Session not initialized: send initialize first');
      await channel.send(answer).catch(logSendError);
      return;
    }
    const answer = await track(initialize(route, session, request));
    const response = 'refusal' in answer ? answer.refusal.error : answer.response;
    await channel.send(response).catch(logSendError);
    // A stdio agent may try again; the others' sessions end here.
    if (response.error !== undefined && closeOnFailure) await channel.close().catch(() => undefined);
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
    openChannel,
    /** Tells the agents of `server` that the tools they may call changed (a policy reload). */
    toolsChanged(server: string): void {
      for (const session of sessions.forServer(server)) {
        if (
          (session.upstream?.init?.capabilities?.tools as { listChanged?: boolean } | undefined)?.listChanged
        )
          session.push({ msg: { jsonrpc: '2.0', method: 'notifications/tools/list_changed' } }, logSendError);
      }
      for (const entry of listeners.get(server) ?? []) {
        if (!entry.tools) continue;
        entry.reply.related({
          msg: {
            jsonrpc: '2.0',
            method: 'notifications/tools/list_changed',
            params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: entry.id } },
          },
        });
      }
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
      sessions.stop();
      await Promise.all(sessions.all().map((s) => closeSession(s, 'gateway closing')));
      // Listen streams end gracefully: their result, then the end of the stream (2026-07-28).
      for (const set of listeners.values()) {
        for (const entry of set) {
          entry.reply.answer(entry.id, {
            msg: resultMessage(entry.id, {
              resultType: 'complete',
              _meta: { [SUBSCRIPTION_ID_META_KEY]: entry.id },
            }),
          });
        }
      }
      listeners.clear();
    },
  };

  function routeOf(session: AgentSession): CoreRoute {
    return routes.get(session.server) as CoreRoute;
  }
}

export type ForwardingCore = ReturnType<typeof createForwardingCore>;

function ownerFrom(principal: Principal): SessionOwner {
  return { id: principal.id, kind: principal.kind };
}

function ownerOf(session: AgentSession): Principal {
  return { id: session.owner.id, kind: session.owner.kind };
}

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
    if (name.startsWith('mcp-param-') && typeof value === 'string') {
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

function initializeParams(params: Record<string, unknown> | undefined): InitializeParams | undefined {
  const info = params?.clientInfo as Record<string, unknown> | undefined;
  if (
    typeof params?.protocolVersion !== 'string' ||
    params.capabilities === null ||
    typeof params.capabilities !== 'object' ||
    info === null ||
    typeof info !== 'object' ||
    typeof info.name !== 'string' ||
    typeof info.version !== 'string'
  )
    return undefined;
  const { tasks: _tasks, ...capabilities } = params.capabilities as Record<string, unknown>;
  return {
    protocolVersion: params.protocolVersion,
    capabilities,
    clientInfo: info as InitializeParams['clientInfo'],
  };
}
