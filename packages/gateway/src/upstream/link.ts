/**
 * A 2025-era upstream session (an `initialize`d connection over a pipe), kept alive for the agent
 * (or the identity) it serves.
 *
 * Requests pass through with the agent's own ids, unless several agents share the session (the
 * 2026-era agents of one grant in front of a 2025-only upstream): then ids and progress tokens are
 * mapped, so two agents' `id: 1` never meet upstream. Answers and related messages go back to the
 * request's sink; what the upstream sends on its own goes to `unsolicited`.
 *
 * How the upstream going away is noticed: a process exits or a stream breaks (the pipe says so); a
 * POST is answered 404 (the upstream restarted and forgot the session) or cannot connect; or a
 * response stream ends without its answer and a ping then fails (an upstream that shuts down cleanly
 * ends its streams without an error). What happens then:
 *   - every request in flight fails at once with UpstreamLostError (it may or may not have run);
 *   - a request that was never delivered is sent again, once, on the new session, so an agent calling
 *     after an upstream restart sees no difference;
 *   - a new session is initialized in the background, with backoff and jitter between attempts, and
 *     `reconnected` replays what the agent had set up (log level, subscriptions).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type Id,
  isResponse,
  RpcFault,
  type RpcMessage,
  type RpcNotification,
  type RpcRequest,
  type RpcResponse,
  type Wire,
} from '../core/jsonrpc.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type Deadline, deadlines } from './deadlines.js';
import {
  CancelledError,
  SessionClosedError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.js';
import { describe, UpstreamNotDeliveredError } from './http-exchange.js';
import { type Pipe, SessionGoneError, UpstreamHttpError } from './pipe.js';

export interface LinkSink {
  /** A notification or server-to-client request that belongs to the request. */
  related(wire: Wire): void;
  /** The answer, under the id the request was sent with. */
  final(wire: Wire): void;
  /** No answer will come: lost, unavailable, timed out, cancelled, or refused at the HTTP level. */
  fail(err: Error): void;
}

export interface InitializeParams {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: { name: string; version: string; [key: string]: unknown };
}

export interface InitializeResult {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string; [key: string]: unknown };
  instructions?: string;
  [key: string]: unknown;
}

export interface LinkEvents {
  /** Every message the upstream sends that is not an answer, before it is routed (catalog staleness). */
  observe?(wire: Wire): void;
  /** A message for no request in flight: to the agent's listening stream, if any. */
  unsolicited(wire: Wire): void;
  /** A new session replaced a lost one; replay what the agent set up on it. */
  reconnected?(link: Link): Promise<void>;
}

export interface LinkOptions {
  server: string;
  openPipe(): Pipe;
  init: InitializeParams;
  /** Several agents send through this session: map ids and progress tokens. */
  shared: boolean;
  /** Longest wait for one answer; progress resets it. */
  timeoutMs: number;
  /** How long a request waits for a reconnect under way before failing as unavailable. */
  reconnectWaitMs?: number;
  backoff?: BackoffOptions;
  logger: Logger;
  events: LinkEvents;
  /** Told once the link is closed (its owner forgets it). */
  onClosed?(): void;
}

interface Pending extends Deadline {
  readonly sink: LinkSink;
  readonly agentId: Id;
  readonly upstreamId: Id;
  readonly fromAgent: boolean;
  /** The agent's progress token when it was mapped (shared sessions). */
  readonly agentToken?: string | number;
  readonly upstreamToken?: string | number;
  generation: number;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/** Messages the upstream sends during a request on a one-channel pipe, taken to belong to it. */
const REQUEST_SCOPED = new Set([
  'notifications/message',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'ping',
]);

const NONCE = randomBytes(4).toString('hex');
let internalSequence = 0;
/** Ids of the gateway's own requests; an agent never picks one by accident. */
const internalId = () => `bastion-${NONCE}-${++internalSequence}`;

const PROBE_TIMEOUT_MS = 5_000;
const INIT_TIMEOUT_MS = 30_000;

export class Link {
  init: InitializeResult | undefined;
  private pipe: Pipe | undefined;
  private state: 'new' | 'ready' | 'down' | 'closed' = 'new';
  private generation = 0;
  private readonly pending = new Map<Id, Pending>();
  private readonly tokens = new Map<string | number, Pending>();
  private sequence = 0;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<Pipe> | undefined;
  private probing = false;
  private lastError: string | undefined;
  private listening = false;

  constructor(private readonly options: LinkOptions) {
    this.backoff = new Backoff(options.backoff);
  }

  /** A method, not a field read, so that a check after an await is not narrowed away. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** The upstream's session id (HTTP), once it gave one; a stateless 2025-era server gives none. */
  get sessionId(): string | undefined {
    return this.pipe?.sessionId;
  }

  get isShared(): boolean {
    return this.options.shared;
  }

  /** Opens the first session; throws UpstreamUnavailableError (or the upstream's refusal) if it cannot. */
  async open(): Promise<InitializeResult> {
    await this.attempt();
    return this.init as InitializeResult;
  }

  /** Sends an agent's request; its answer and related messages go to `sink`. */
  request(request: RpcRequest, sink: LinkSink, signal?: AbortSignal): void {
    void this.dispatch(request, sink, signal, true);
  }

  /** The gateway's own request on this session (tools/list, ping, replays). */
  call(
    method: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const request: RpcRequest = { jsonrpc: '2.0', id: internalId(), method, ...(params ? { params } : {}) };
      void this.dispatch(
        request,
        {
          related: (wire) => this.options.events.unsolicited(wire),
          final: (wire) => {
            const m = wire.msg as RpcResponse;
            if (m.error !== undefined) reject(new RpcFault(m.error.code, m.error.message, m.error.data));
            else resolve(m.result ?? {});
          },
          fail: reject,
        },
        signal,
        false,
      );
    });
  }

  notify(notification: RpcNotification): void {
    this.send(notification);
  }

  /** The agent's answer to a server-to-client request. */
  respond(response: RpcResponse): void {
    this.send(response);
  }

  private send(message: RpcMessage): void {
    const pipe = this.state === 'ready' ? this.pipe : undefined;
    pipe
      ?.send(message, JSON.stringify(message))
      .catch((err: unknown) =>
        this.options.logger.debug({ err: describe(err) }, 'message not passed upstream'),
      );
  }

  /** Whether the upstream's own messages are wanted (opens the GET stream of an HTTP session). */
  listen(on: boolean): void {
    this.listening = on;
    if (this.state === 'ready') this.pipe?.listen(on);
  }

  async close(clean = true): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.options.onClosed?.();
    clearTimeout(this.reconnectTimer);
    this.failAll(new SessionClosedError('the agent session closed'));
    const pipe = this.pipe;
    this.pipe = undefined;
    await pipe?.close(clean);
  }

  private async dispatch(
    request: RpcRequest,
    sink: LinkSink,
    signal: AbortSignal | undefined,
    fromAgent: boolean,
  ) {
    for (let attempt = 0; ; attempt++) {
      let pipe: Pipe;
      try {
        pipe = await this.ready();
      } catch (err) {
        sink.fail(err as Error);
        return;
      }
      if (signal?.aborted) {
        sink.fail(new CancelledError('cancelled before it was sent'));
        return;
      }
      const entry = this.register(request, sink, fromAgent, signal);
      if (entry === undefined) {
        sink.fail(new RpcFault(-32600, `request id ${String(request.id)} is already in flight`));
        return;
      }
      const message = this.upstreamMessage(request, entry);
      try {
        await pipe.send(message, JSON.stringify(message));
        return;
      } catch (err) {
        this.unregister(entry);
        if (err instanceof UpstreamNotDeliveredError || err instanceof SessionGoneError) {
          this.lost(entry.generation, err);
          if (attempt === 0 && this.state !== 'closed') continue;
          sink.fail(
            new UpstreamUnavailableError(
              `upstream '${this.options.server}' did not take the request: ${describe(err)}`,
            ),
          );
          return;
        }
        if (err instanceof UpstreamHttpError) {
          const body = err.body?.msg as RpcResponse | undefined;
          sink.fail(
            body?.error !== undefined
              ? new RpcFault(body.error.code, body.error.message, body.error.data)
              : new RpcFault(-32603, `upstream '${this.options.server}' answered HTTP ${err.status}`),
          );
          return;
        }
        sink.fail(err as Error);
        return;
      }
    }
  }

  private register(
    request: RpcRequest,
    sink: LinkSink,
    fromAgent: boolean,
    signal?: AbortSignal,
  ): Pending | undefined {
    const shared = this.options.shared && fromAgent;
    const upstreamId = shared ? ++this.sequence : request.id;
    if (this.pending.has(upstreamId)) return undefined;
    const meta = request.params?._meta as Record<string, unknown> | undefined;
    const token = meta?.progressToken as string | number | undefined;
    const entry: Pending = {
      sink,
      agentId: request.id,
      upstreamId,
      fromAgent,
      generation: this.generation,
      at: Date.now() + this.options.timeoutMs,
      ...(token === undefined ? {} : { agentToken: token, upstreamToken: shared ? `p${upstreamId}` : token }),
      expire: () => {
        this.unregister(entry);
        this.sendCancel(entry, 'timed out');
        sink.fail(
          new UpstreamTimeoutError(
            `upstream '${this.options.server}' did not answer '${request.method}' in time`,
          ),
        );
      },
    };
    this.pending.set(upstreamId, entry);
    if (entry.upstreamToken !== undefined) this.tokens.set(entry.upstreamToken, entry);
    deadlines.add(entry);
    if (signal !== undefined) {
      entry.signal = signal;
      entry.onAbort = () => {
        if (!this.unregister(entry)) return;
        this.sendCancel(entry, String((signal.reason as Error | undefined)?.message ?? 'cancelled'));
        sink.fail(new CancelledError('cancelled by the agent'));
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    return entry;
  }

  /** Removes a request from flight; false when it had already left. */
  private unregister(entry: Pending): boolean {
    if (this.pending.get(entry.upstreamId) !== entry) return false;
    this.pending.delete(entry.upstreamId);
    if (entry.upstreamToken !== undefined) this.tokens.delete(entry.upstreamToken);
    deadlines.delete(entry);
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort);
    return true;
  }

  private upstreamMessage(request: RpcRequest, entry: Pending): RpcRequest {
    if (entry.upstreamId === request.id && entry.upstreamToken === entry.agentToken) return request;
    const params = request.params ?? {};
    const meta = params._meta as Record<string, unknown> | undefined;
    return {
      jsonrpc: '2.0',
      id: entry.upstreamId,
      method: request.method,
      params:
        meta === undefined || entry.upstreamToken === undefined
          ? params
          : { ...params, _meta: { ...meta, progressToken: entry.upstreamToken } },
    };
  }

  private sendCancel(entry: Pending, reason: string): void {
    this.notify({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: entry.upstreamId, reason },
    });
  }

  private receive(wire: Wire, via: Id | undefined, generation: number): void {
    if (generation !== this.generation) return;
    const m = wire.msg;
    if (isResponse(m)) {
      const entry = m.id === null ? undefined : this.pending.get(m.id);
      if (entry === undefined) {
        this.options.logger.debug({ id: m.id }, 'answer for no request in flight');
        return;
      }
      this.unregister(entry);
      entry.sink.final(entry.agentId === m.id ? wire : { msg: { ...m, id: entry.agentId } });
      return;
    }
    this.options.events.observe?.(wire);
    const method = (m as RpcNotification).method;
    if (method === 'notifications/progress') {
      const token = (m as RpcNotification).params?.progressToken as string | number | undefined;
      const entry = token === undefined ? undefined : this.tokens.get(token);
      if (entry !== undefined) {
        entry.at = Date.now() + this.options.timeoutMs;
        const params = (m as RpcNotification).params ?? {};
        entry.sink.related(
          entry.upstreamToken === entry.agentToken
            ? wire
            : { msg: { ...m, params: { ...params, progressToken: entry.agentToken } } as RpcMessage },
        );
        return;
      }
    }
    const entry =
      via !== undefined ? this.pending.get(via) : REQUEST_SCOPED.has(method) ? this.latest() : undefined;
    if (entry?.fromAgent) entry.sink.related(wire);
    else this.options.events.unsolicited(wire);
  }

  /** The agent request sent last and still in flight (one-channel pipes relate messages to it). */
  private latest(): Pending | undefined {
    let last: Pending | undefined;
    for (const entry of this.pending.values()) if (entry.fromAgent) last = entry;
    return last;
  }

  private failAll(err: Error): void {
    const entries = [...this.pending.values()];
    for (const entry of entries) this.unregister(entry);
    for (const entry of entries) entry.sink.fail(err);
  }

  /**
   * The pipe to send on; while the upstream is away, the result of an attempt made now (a request
   * does not wait for the next backoff step), bounded by `reconnectWaitMs`.
   */
  private ready(): Promise<Pipe> {
    if (this.state === 'closed')
      return Promise.reject(new UpstreamUnavailableError('the agent session closed'));
    if (this.state === 'ready' && this.pipe !== undefined) return Promise.resolve(this.pipe);
    const unavailable = () =>
      new UpstreamUnavailableError(
        `upstream '${this.options.server}' is unavailable${this.lastError ? ` (${this.lastError})` : ''}`,
      );
    return new Promise<Pipe>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable()), this.options.reconnectWaitMs ?? 10_000);
      this.attempt().then(
        (pipe) => {
          clearTimeout(timer);
          resolve(pipe);
        },
        () => {
          clearTimeout(timer);
          reject(unavailable());
        },
      );
    });
  }

  /** One connection attempt (joined if one is under way); on failure the next is scheduled. */
  private attempt(): Promise<Pipe> {
    if (this.connecting !== undefined) return this.connecting;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const first = this.state === 'new';
    const attempt = this.connect().then(
      async (pipe) => {
        this.connecting = undefined;
        this.backoff.reset();
        this.lastError = undefined;
        if (!first) {
          this.options.logger.info({ server: this.options.server }, 'upstream session re-established');
          try {
            await this.options.events.reconnected?.(this);
          } catch (err) {
            this.options.logger.warn(
              { err: describe(err), server: this.options.server },
              'could not restore session state upstream',
            );
          }
        }
        return pipe;
      },
      (err: unknown) => {
        this.connecting = undefined;
        this.lastError = describe(err);
        if (!first) this.scheduleReconnect();
        throw err;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  private async connect(): Promise<Pipe> {
    if (this.state === 'closed') throw new UpstreamUnavailableError('the agent session closed');
    const generation = ++this.generation;
    const pipe = this.options.openPipe();
    try {
      await pipe.start({
        onMessage: (wire, via) => this.receive(wire, via, generation),
        onUnanswered: () => this.suspect(generation),
        onClosed: (reason) => this.lost(generation, new Error(reason)),
      });
      const init = await this.handshake(pipe, generation);
      if (this.isClosed()) throw new UpstreamUnavailableError('the agent session closed');
      this.init = init;
      this.pipe = pipe;
      this.state = 'ready';
      pipe.setProtocolVersion(init.protocolVersion);
      void pipe
        .send(
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        )
        .catch(() => undefined);
      if (this.listening) pipe.listen(true);
      return pipe;
    } catch (err) {
      await pipe.close(false).catch(() => undefined);
      if (err instanceof UpstreamUnavailableError || err instanceof RpcFault) throw err;
      throw new UpstreamUnavailableError(
        `upstream '${this.options.server}' could not be reached: ${describe(err)}`,
      );
    }
  }

  private handshake(pipe: Pipe, generation: number): Promise<InitializeResult> {
    return new Promise<InitializeResult>((resolve, reject) => {
      const id = internalId();
      const entry: Pending = {
        sink: {
          related: () => undefined,
          final: (wire) => {
            const m = wire.msg as RpcResponse;
            if (m.error !== undefined) reject(new RpcFault(m.error.code, m.error.message, m.error.data));
            else if (!isInitializeResult(m.result))
              reject(new Error('the upstream answered initialize with something else'));
            else resolve(m.result);
          },
          fail: reject,
        },
        agentId: id,
        upstreamId: id,
        fromAgent: false,
        generation,
        at: Date.now() + Math.min(this.options.timeoutMs, INIT_TIMEOUT_MS),
        expire: () => {
          this.unregister(entry);
          reject(new UpstreamTimeoutError('the upstream did not answer initialize in time'));
        },
      };
      this.pending.set(id, entry);
      deadlines.add(entry);
      const request = { jsonrpc: '2.0' as const, id, method: 'initialize', params: { ...this.options.init } };
      pipe.send(request, JSON.stringify(request)).catch((err: unknown) => {
        this.unregister(entry);
        reject(err);
      });
    });
  }

  /** The session is gone: fail what is in flight, drop the pipe, start reconnecting. */
  private lost(generation: number, reason: unknown): void {
    if (generation !== this.generation || this.state !== 'ready') return;
    this.state = 'down';
    this.options.logger.warn(
      { server: this.options.server, reason: describe(reason) },
      'upstream session lost; reconnecting',
    );
    const entries = [...this.pending.values()].filter((e) => e.generation === generation);
    for (const entry of entries) this.unregister(entry);
    const error = new UpstreamLostError(`upstream '${this.options.server}' restarted`);
    for (const entry of entries) entry.sink.fail(error);
    const pipe = this.pipe;
    this.pipe = undefined;
    void pipe?.close(false).catch(() => undefined);
    this.scheduleReconnect();
  }

  /** A response stream ended unanswered: ask the upstream whether the session is still there. */
  private suspect(generation: number): void {
    if (this.probing || generation !== this.generation || this.state !== 'ready') return;
    this.probing = true;
    this.call('ping', undefined, AbortSignal.timeout(PROBE_TIMEOUT_MS))
      .then(
        () => undefined,
        (err: unknown) => {
          // An error answer means the session is alive (it answered); anything else means it is not.
          if (!(err instanceof RpcFault)) this.lost(generation, err);
        },
      )
      .finally(() => {
        this.probing = false;
      });
  }

  /** Background reconnects: one attempt after each backoff step (with jitter) until one succeeds. */
  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.state === 'ready' || this.connecting !== undefined) return;
    if (this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.attempt().catch(() => undefined);
    }, this.backoff.next());
  }
}

function isInitializeResult(value: unknown): value is InitializeResult {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  const info = r.serverInfo as Record<string, unknown> | undefined;
  return (
    typeof r.protocolVersion === 'string' &&
    r.capabilities !== null &&
    typeof r.capabilities === 'object' &&
    info !== undefined &&
    info !== null &&
    typeof info.name === 'string' &&
    typeof info.version === 'string'
  );
}
