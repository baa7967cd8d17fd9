/**
 * The life of a 2025-era agent session in the core: opened by `initialize` (after the session caps
 * admit it, with its upstream opened by the era layer), listened to by a GET stream, ended by DELETE,
 * by its channel closing, or by idleness. Messages of an open session go back to the core's `receive`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics.js';
import type { Principal } from '../pipeline/context.js';
import type { StateStore } from '../store/store.js';
import type { InitializeResult } from '../upstream/link.js';
import {
  ErrorCodes,
  errorMessage,
  kindOf,
  type RpcMessage,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
} from './jsonrpc.js';
import {
  type ChannelSession,
  type ChannelTransport,
  type InitializeParams,
  initializeParams,
  type LegacyRoute,
  listsChanges,
  ownerFrom,
  ownerOf,
  type SessionEvents,
} from './legacy-types.js';
import { mayPush, type PushContext } from './pushed.js';
import { EventStream, type Reply, writeJson } from './reply.js';
import { AgentSession, type SessionCaps, SessionTable } from './sessions.js';
import { type Caller, catalogOf } from './tools.js';
import type { Upstream } from './upstream.js';

type InitAnswer =
  | { response: RpcResponse }
  | { refusal: { status: number; error: RpcResponse; headers?: Record<string, string> } };

export interface LegacySessionsOptions extends PushContext {
  routes: ReadonlyMap<string, LegacyRoute>;
  /** Where sessions are recorded, so that another gateway process can serve them (store/store.ts). */
  store: StateStore;
  caps: SessionCaps;
  logger: Logger;
  metrics: GatewayMetrics;
  idleSessionMs?: number;
  /** The core's handling of one message of an open session. */
  receive(session: AgentSession, message: RpcMessage, reply: Reply | undefined): void;
  /** Counts work as in flight (a drain waits for it). */
  track<T>(work: Promise<T>): Promise<T>;
  draining(): boolean;
}

export class LegacySessions {
  readonly table: SessionTable;
  /** Sessions being taken over here, by id: their requests wait for the one take-over. */
  private readonly recalling = new Map<string, Promise<AgentSession | undefined>>();
  private readonly logSendError: (err: unknown) => void;

  constructor(private readonly o: LegacySessionsOptions) {
    this.table = new SessionTable(o.caps, o.logger, (s, why) => void this.close(s, why), o.idleSessionMs);
    this.logSendError = (err) => o.logger.debug({ err }, 'could not write to the agent');
  }

  /** `initialize` over Streamable HTTP: a new session, its id in the answer's head. */
  async initializeHttp(route: LegacyRoute, principal: Principal, res: ServerResponse, request: RpcRequest) {
    const session = new AgentSession(randomUUID(), route.name, ownerFrom(principal), undefined, Date.now());
    const answer = await this.initialize(route, session, request);
    if ('refusal' in answer) {
      writeJson(res, answer.refusal.status, JSON.stringify(answer.refusal.error), answer.refusal.headers);
      return;
    }
    const headers: Record<string, string> =
      answer.response.error === undefined ? { 'mcp-session-id': session.id } : {};
    writeJson(res, 200, JSON.stringify(answer.response), headers);
  }

  /** The GET stream: what the upstream sends on its own reaches the agent here while it is open. */
  async openStream(route: LegacyRoute, principal: Principal, req: IncomingMessage, res: ServerResponse) {
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined)
      return refuse(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    const session = await this.lookup(route, principal, sessionId);
    if (session === undefined || session.server !== route.name)
      return refuse(res, 404, -32001, 'Session not found');
    if (!(req.headers.accept ?? '').includes('text/event-stream'))
      return refuse(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    if (session.stream?.open)
      return refuse(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
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

  /** DELETE: the agent ends its session (and the gateway its upstream session). */
  async end(route: LegacyRoute, principal: Principal, req: IncomingMessage, res: ServerResponse) {
    const sessionId = header(req, 'mcp-session-id');
    const session = sessionId === undefined ? undefined : await this.lookup(route, principal, sessionId);
    if (session === undefined) return refuse(res, 404, -32001, 'Session not found');
    await this.close(session, 'ended by the agent');
    res.writeHead(200).end();
  }

  async close(session: AgentSession, why: string): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    this.abandon(session);
    // Ended by the agent or for idleness: no other process is to serve it either. (Closing the
    // gateway itself keeps the records: another process takes the sessions over.)
    if (why !== 'gateway closing' && session.record !== undefined)
      await this.o.store.sessions.drop(session.id).catch(() => undefined);
    this.o.logger.debug({ session: session.id, why }, 'session closed');
    session.stream?.end();
    // A gateway going away leaves recorded upstream sessions to the process that serves them next.
    const handOver =
      why === 'gateway closing' && this.o.store.sessions.shared && session.record !== undefined;
    await session.upstream?.close(!handOver);
  }

  async closeAll(): Promise<void> {
    this.table.stop();
    await Promise.all(this.table.all().map((s) => this.close(s, 'gateway closing')));
  }

  /** An agent on a message channel (legacy SSE, stdio, in memory): every message on the one channel. */
  async openChannel(
    server: string,
    channel: ChannelTransport,
    o: { sessionId?: string; principal: Principal; closeOnInitializeFailure?: boolean },
  ): Promise<ChannelSession> {
    const route = this.o.routes.get(server);
    if (route === undefined) throw new Error(`no server named '${server}'`);
    const session = new AgentSession(
      o.sessionId ?? randomUUID(),
      server,
      ownerFrom(o.principal),
      channel,
      Date.now(),
    );
    const close = () => this.close(session, 'channel closed');
    channel.onclose = () => void close();
    channel.onmessage = (message: RpcMessage) => {
      if (this.o.draining() && kindOf(message) === 'request') {
        const id = (message as RpcRequest).id;
        channel
          .send(errorMessage(id, ErrorCodes.ShuttingDown, 'the gateway is shutting down'))
          .catch(this.logSendError);
        return;
      }
      if (session.upstream !== undefined) this.o.receive(session, message, undefined);
      else void this.beforeInitialize(route, session, message, o.closeOnInitializeFailure ?? true);
    };
    await channel.start();
    return { id: session.id, close };
  }

  private async beforeInitialize(
    route: LegacyRoute,
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
      await channel.send(answer).catch(this.logSendError);
      return;
    }
    const answer = await this.o.track(this.initialize(route, session, request));
    const response = 'refusal' in answer ? answer.refusal.error : answer.response;
    await channel.send(response).catch(this.logSendError);
    // A stdio agent may try again; the others' sessions end here.
    if (response.error !== undefined && closeOnFailure) await channel.close().catch(() => undefined);
  }

  /** Opens the session's upstream and answers initialize with what the upstream presents. */
  private async initialize(
    route: LegacyRoute,
    session: AgentSession,
    request: RpcRequest,
  ): Promise<InitAnswer> {
    const { logger, metrics } = this.o;
    const id = request.id;
    const init = initializeParams(request.params);
    if (init === undefined)
      return { response: errorMessage(id, -32602, 'Invalid params: not an initialize request') };
    const admission = this.table.admit(session.owner);
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
            { code: 'SESSION_LIMIT', scope: admission.scope, limit: admission.limit },
          ),
        },
      };
    }
    const refused = route.runtime.refusal();
    if (refused !== undefined) return { response: errorMessage(id, -32603, refused) };
    this.table.add(session);
    metrics.activeSessions.inc({ server: route.name });
    let upstream: Upstream;
    try {
      upstream = await route.openLegacy(session, init, this.eventsFor(session));
    } catch (err) {
      this.abandon(session);
      logger.warn({ server: route.name, reason: (err as Error).message }, 'agent session not initialized');
      return { response: errorMessage(id, -32603, (err as Error).message) };
    }
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
    const presented = upstream.init;
    const refusedNow = route.runtime.refusal();
    if (presented === undefined || refusedNow !== undefined || session.closed) {
      this.abandon(session);
      await upstream.close(true);
      return { response: errorMessage(id, -32603, refusedNow ?? 'upstream not initialized') };
    }
    session.upstream = upstream;
    session.clientCapabilities = init.capabilities;
    // A channel agent always listens; an HTTP agent does while it holds its GET stream.
    if (session.listening) upstream.listen(true);
    const { tasks: _tasks, ...capabilities } = presented.capabilities;
    const shown = { ...presented, capabilities };
    session.record = { server: route.name, principal: { ...session.owner }, ...init, presented: shown };
    // Channel agents are bound to their channel: nobody else could serve them.
    if (session.channel === undefined) await this.save(session);
    return { response: resultMessage(id, shown) };
  }

  /** What a session set up upstream, replayed when its upstream session is replaced (and recorded). */
  remember(
    session: AgentSession | undefined,
    request: RpcRequest,
    handling: string,
    answer: RpcResponse,
  ): void {
    if (session === undefined || answer.error !== undefined) return;
    const params = request.params ?? {};
    if (handling === 'set-level' && typeof params.level === 'string') session.logLevel = params.level;
    else if (handling === 'subscribe' && typeof params.uri === 'string') {
      session.subscriptions ??= new Set();
      session.subscriptions.add(params.uri);
    } else if (handling === 'unsubscribe' && typeof params.uri === 'string')
      session.subscriptions?.delete(params.uri);
    else return;
    void this.save(session);
  }

  /** Records a session (and what it set up) in the session directory. */
  async save(session: AgentSession): Promise<void> {
    const record = session.record;
    if (record === undefined || session.channel !== undefined) return;
    const upstreamSessionId = session.upstream?.sessionId;
    await this.o.store.sessions
      .save(session.id, {
        ...record,
        ...(upstreamSessionId === undefined ? {} : { upstreamSessionId }),
        ...(session.logLevel === undefined ? {} : { logLevel: session.logLevel }),
        ...(session.subscriptions === undefined ? {} : { subscriptions: [...session.subscriptions] }),
      })
      .catch((err: unknown) =>
        this.o.logger.warn({ err, session: session.id }, 'could not record the session'),
      );
  }

  /**
   * A session this process does not hold, which another one recorded: served here from now on,
   * continuing its upstream session when the upstream keeps it (or opening a new one as after a
   * restart, with the log level and subscriptions set up again).
   */
  /**
   * A session held here, or one another process recorded. A session being taken over is in the
   * table before its upstream is open: its concurrent requests (an agent's parallel calls landing
   * on a new replica) wait for that one take-over instead of finding it half open.
   */
  async lookup(route: LegacyRoute, principal: Principal, id: string): Promise<AgentSession | undefined> {
    const pending = this.recalling.get(id);
    const session = pending !== undefined ? await pending : this.table.find(id, principal.id);
    if (session !== undefined) return session.owner.id === principal.id ? session : undefined;
    return this.recall(route, principal, id);
  }

  recall(route: LegacyRoute, principal: Principal, id: string): Promise<AgentSession | undefined> {
    const running = this.recalling.get(id);
    if (running !== undefined) return running;
    const takeOver = this.takeOver(route, principal, id).finally(() => this.recalling.delete(id));
    this.recalling.set(id, takeOver);
    return takeOver;
  }

  private async takeOver(route: LegacyRoute, principal: Principal, id: string) {
    const record = await this.o.store.sessions.load(id).catch(() => undefined);
    if (record === undefined || record.server !== route.name || record.principal.id !== principal.id)
      return undefined;
    const held = this.table.find(id, principal.id);
    if (held !== undefined) return held;
    const session = new AgentSession(id, route.name, record.principal, undefined, Date.now());
    if (!this.table.admit(session.owner).ok) return undefined;
    const init: InitializeParams = {
      protocolVersion: record.protocolVersion,
      capabilities: record.capabilities,
      clientInfo: record.clientInfo as InitializeParams['clientInfo'],
    };
    const presented = record.presented as InitializeResult | undefined;
    const resume =
      record.upstreamSessionId !== undefined && presented !== undefined
        ? { sessionId: record.upstreamSessionId, init: presented }
        : undefined;
    this.table.add(session);
    this.o.metrics.activeSessions.inc({ server: route.name });
    try {
      session.upstream = await route.openLegacy(session, init, this.eventsFor(session), resume);
    } catch (err) {
      this.abandon(session);
      this.o.logger.warn({ err, session: id }, 'could not take over a recorded session');
      return undefined;
    }
    session.record = {
      server: route.name,
      principal: record.principal,
      ...init,
      ...(presented ? { presented } : {}),
    };
    session.logLevel = record.logLevel;
    if (record.subscriptions !== undefined) session.subscriptions = new Set(record.subscriptions);
    if (resume === undefined || session.upstream.sessionId !== resume.sessionId) {
      if (session.logLevel !== undefined)
        await session.upstream.call('logging/setLevel', { level: session.logLevel }).catch(() => undefined);
      for (const uri of session.subscriptions ?? [])
        await session.upstream.call('resources/subscribe', { uri }).catch(() => undefined);
      await this.save(session);
    }
    this.o.logger.info(
      { session: id, server: route.name },
      'serving a session another gateway process opened',
    );
    return session;
  }

  private eventsFor(session: AgentSession): SessionEvents {
    return {
      push: (wire) => {
        if (mayPush(this.o, ownerOf(session), session.server, wire)) session.push(wire, this.logSendError);
      },
      toolsChanged: () => {
        session.catalogStale = true;
      },
      reconnected: async (upstream) => {
        this.o.metrics.upstreamReconnects.inc({ server: session.server });
        session.catalogStale = true;
        if (session.logLevel !== undefined)
          await upstream.call('logging/setLevel', { level: session.logLevel });
        for (const uri of session.subscriptions ?? []) await upstream.call('resources/subscribe', { uri });
        // The new upstream session may offer other tools: the agent may list again.
        if (listsChanges(upstream)) this.pushToolsChanged(session);
      },
    };
  }

  /** Tells a session that the tools it may call changed, when its upstream says it may be told. */
  pushToolsChanged(session: AgentSession): void {
    session.push({ msg: { jsonrpc: '2.0', method: 'notifications/tools/list_changed' } }, this.logSendError);
  }

  /** Takes a session out of the table (and the metric) without touching its upstream. */
  private abandon(session: AgentSession): void {
    if (this.table.remove(session)) this.o.metrics.activeSessions.dec({ server: session.server });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function refuse(res: ServerResponse, status: number, code: number, message: string): void {
  writeJson(res, status, JSON.stringify(errorMessage(null, code, message)));
}
