/**
 * A stateful upstream connection over a pipe, kept alive for the agent (or the identity) it serves:
 * a 2025-era session (opened with `initialize`), or a 2026-era stdio process (no handshake; each
 * request carries its envelope).
 *
 * Requests pass through with the agent's own ids, unless several agents share the connection (the
 * 2026-era agents of one grant): then ids and progress tokens are mapped (in-flight.ts), so two
 * agents' `id: 1` never meet upstream. Answers and related messages go back to the request's sink;
 * what the upstream sends on its own goes to `unsolicited`.
 *
 * How the upstream going away is noticed: a process exits or a stream breaks (the pipe says so); a
 * POST is answered 404 (the upstream restarted and forgot the session) or cannot connect; or a
 * response stream ends without its answer and a ping then fails (an upstream that shuts down cleanly
 * ends its streams without an error). What happens then:
 *   - every request in flight fails at once with UpstreamLostError (it may or may not have run);
 *   - a request that was never delivered is sent again, once, on the new connection, so an agent
 *     calling after an upstream restart sees no difference;
 *   - a new connection is opened in the background, with backoff and jitter between attempts, and
 *     `reconnected` replays what the agent had set up (log level, subscriptions).
 */
import { randomBytes } from 'node:crypto';
import { SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server';
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
import type { BackoffOptions } from './backoff.js';
import { Connection } from './connection.js';
import {
  CancelledError,
  SessionClosedError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.js';
import { describe, UpstreamNotDeliveredError } from './http-exchange.js';
import { InFlight, type LinkSink, type Pending } from './in-flight.js';
import { gatewayEnvelope } from './modern-exchange.js';
import { type Pipe, SessionGoneError, UpstreamHttpError } from './pipe.js';

export type { LinkSink };

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
  /** A new connection replaced a lost one; replay what the agent set up on it. */
  reconnected?(link: Link): Promise<void>;
}

export interface LinkOptions {
  server: string;
  openPipe(): Pipe;
  /** The 2025-era handshake; without it the connection is a 2026-era one, presented as `presented`. */
  init?: InitializeParams;
  presented?: InitializeResult;
  /** Several agents send through this connection: map ids and progress tokens. */
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
  /**
   * An upstream session opened elsewhere (another gateway process, by the shared session
   * directory) to continue instead of initializing a new one; if the upstream no longer knows it,
   * the link initializes a new one as after a restart.
   */
  resume?: { sessionId: string; init: InitializeResult };
}

/** Messages the upstream sends during a request on a one-channel pipe, taken to belong to it. */
const REQUEST_SCOPED = new Set([
  'notifications/message',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
]);

const NONCE = randomBytes(4).toString('hex');
let internalSequence = 0;
/** Ids of the gateway's own requests; an agent never picks one by accident. */
const internalId = () => `bastion-${NONCE}-${++internalSequence}`;

const INIT_TIMEOUT_MS = 30_000;

export class Link extends Connection {
  private readonly inflight: InFlight;

  constructor(private readonly options: LinkOptions) {
    super(options);
    this.inflight = new InFlight(options.timeoutMs, (entry) => {
      this.sendCancel(entry, 'timed out');
      entry.sink.fail(
        new UpstreamTimeoutError(`upstream '${options.server}' did not answer '${entry.method}' in time`),
      );
    });
    if (options.init === undefined) this.init = options.presented;
  }

  /** The upstream's session id (HTTP), once it gave one; a stateless 2025-era server gives none. */
  get sessionId(): string | undefined {
    return this.pipe?.sessionId;
  }

  /** Sends an agent's request; its answer and related messages go to `sink`. */
  request(
    request: RpcRequest,
    sink: LinkSink,
    signal?: AbortSignal,
    options: { longLived?: boolean } = {},
  ): void {
    void this.dispatch(request, sink, signal, true, options.longLived === true);
  }

  /** The gateway's own request on this connection (tools/list, ping, replays). */
  call(
    method: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    // A 2026-era connection wants the envelope on every request, the gateway's own included.
    const sent =
      this.options.init === undefined
        ? { ...params, _meta: { ...(params?._meta as object), ...gatewayEnvelope() } }
        : params;
    return new Promise((resolve, reject) => {
      const request: RpcRequest = {
        jsonrpc: '2.0',
        id: internalId(),
        method,
        ...(sent ? { params: sent } : {}),
      };
      const sink: LinkSink = {
        related: (wire) => this.options.events.unsolicited(wire),
        final: (wire) => {
          const m = wire.msg as RpcResponse;
          if (m.error !== undefined) reject(new RpcFault(m.error.code, m.error.message, m.error.data));
          else resolve(m.result ?? {});
        },
        fail: reject,
      };
      void this.dispatch(request, sink, signal, false, false);
    });
  }

  notify(notification: RpcNotification): void {
    this.send(notification);
  }

  /** The agent's answer to a server-to-client request. */
  respond(response: RpcResponse): void {
    this.send(response);
  }

  /** Whether the upstream's own messages are wanted (opens the GET stream of an HTTP session). */
  listen(on: boolean): void {
    this.listening = on;
    if (this.state === 'ready') this.pipe?.listen(on);
  }

  async close(clean = true): Promise<void> {
    if (this.state === 'closed') return;
    const pipe = this.shut();
    this.options.onClosed?.();
    const error = new SessionClosedError('the agent session closed');
    for (const entry of this.inflight.drain()) entry.sink.fail(error);
    await pipe?.close(clean);
  }

  private send(message: RpcMessage): void {
    const pipe = this.state === 'ready' ? this.pipe : undefined;
    pipe
      ?.send(message, JSON.stringify(message))
      .catch((err: unknown) =>
        this.options.logger.debug({ err: describe(err) }, 'message not passed upstream'),
      );
  }

  private async dispatch(
    request: RpcRequest,
    sink: LinkSink,
    signal: AbortSignal | undefined,
    fromAgent: boolean,
    longLived: boolean,
  ): Promise<void> {
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
      const entry = this.inflight.add(request, sink, {
        fromAgent,
        map: this.options.shared && fromAgent,
        generation: this.generation,
        longLived,
      });
      if (entry === undefined) {
        sink.fail(new RpcFault(-32600, `request id ${String(request.id)} is already in flight`));
        return;
      }
      if (signal !== undefined) this.cancelOn(signal, entry);
      const message = this.inflight.upstreamMessage(request, entry);
      try {
        await pipe.send(message, JSON.stringify(message));
        return;
      } catch (err) {
        this.inflight.remove(entry);
        if (err instanceof UpstreamNotDeliveredError || err instanceof SessionGoneError) {
          this.lost(entry.generation, err);
          if (attempt === 0 && !this.isClosed()) continue;
          sink.fail(
            new UpstreamUnavailableError(
              `upstream '${this.options.server}' did not take the request: ${describe(err)}`,
            ),
          );
          return;
        }
        sink.fail(err instanceof UpstreamHttpError ? faultOf(err, this.options.server) : (err as Error));
        return;
      }
    }
  }

  /** The agent cancelled: the request leaves flight, and the upstream is told (2025: notifications/cancelled). */
  private cancelOn(signal: AbortSignal, entry: Pending): void {
    const abort = () => {
      if (!this.inflight.remove(entry)) return;
      this.sendCancel(entry, String((signal.reason as Error | undefined)?.message ?? 'cancelled'));
      entry.sink.fail(new CancelledError('cancelled by the agent'));
    };
    signal.addEventListener('abort', abort, { once: true });
    entry.detach = () => signal.removeEventListener('abort', abort);
  }

  private sendCancel(entry: Pending, reason: string): void {
    this.notify({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: entry.upstreamId, reason },
    });
  }

  protected receive(wire: Wire, via: Id | undefined, generation: number): void {
    if (generation !== this.generation) return;
    const m = wire.msg;
    if (isResponse(m)) {
      const entry = m.id === null ? undefined : this.inflight.get(m.id);
      if (entry === undefined) {
        this.options.logger.debug({ id: m.id }, 'answer for no request in flight');
        return;
      }
      this.inflight.remove(entry);
      entry.sink.final(entry.agentId === m.id ? wire : { msg: { ...m, id: entry.agentId } });
      return;
    }
    this.options.events.observe?.(wire);
    const note = m as RpcNotification;
    const params = note.params ?? {};
    if (note.method === 'notifications/progress') {
      const entry = this.inflight.progressOf(params.progressToken as string | number);
      if (entry !== undefined) {
        entry.sink.related(
          entry.upstreamToken === entry.agentToken
            ? wire
            : withParams(note, { ...params, progressToken: entry.agentToken }),
        );
        return;
      }
    }
    // A 2026-era listen stream over stdio: its notifications name the subscription (its request id).
    const subscription = (params._meta as Record<string, unknown> | undefined)?.[SUBSCRIPTION_ID_META_KEY] as
      | Id
      | undefined;
    const listener = subscription === undefined ? undefined : this.inflight.get(subscription);
    if (listener !== undefined) {
      const meta = {
        ...(params._meta as Record<string, unknown>),
        [SUBSCRIPTION_ID_META_KEY]: listener.agentId,
      };
      listener.sink.related(
        listener.agentId === subscription ? wire : withParams(note, { ...params, _meta: meta }),
      );
      return;
    }
    const entry =
      via !== undefined
        ? this.inflight.get(via)
        : REQUEST_SCOPED.has(note.method)
          ? this.inflight.latest()
          : undefined;
    if (entry?.fromAgent) entry.sink.related(wire);
    else this.options.events.unsolicited(wire);
  }

  protected opened(pipe: Pipe, init: InitializeResult | undefined): void {
    if (this.options.init === undefined || init === undefined) return;
    // A resumed session was initialized (and told so) by whoever opened it.
    if (this.options.resume !== undefined && pipe.sessionId === this.options.resume.sessionId) return;
    pipe.setProtocolVersion(init.protocolVersion);
    const initialized = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
    void pipe.send(JSON.parse(initialized) as RpcMessage, initialized).catch(() => undefined);
  }

  protected failInFlight(generation: number): void {
    const error = new UpstreamLostError(`upstream '${this.options.server}' restarted`);
    for (const entry of this.inflight.drain(generation)) entry.sink.fail(error);
  }

  protected probe(signal: AbortSignal): Promise<unknown> | undefined {
    // A 2026-era connection has no ping; its process exiting is what says it is gone.
    return this.options.init === undefined ? undefined : this.call('ping', undefined, signal);
  }

  protected async reconnected(): Promise<void> {
    await this.options.events.reconnected?.(this);
  }

  protected handshake(pipe: Pipe, generation: number): Promise<InitializeResult | undefined> {
    if (this.options.init === undefined) return Promise.resolve(this.init);
    const resume = this.options.resume;
    if (resume !== undefined && generation === 1 && pipe.adopt !== undefined) {
      pipe.adopt(resume.sessionId, resume.init.protocolVersion);
      return Promise.resolve(resume.init);
    }
    return new Promise<InitializeResult>((resolve, reject) => {
      const request: RpcRequest = {
        jsonrpc: '2.0',
        id: internalId(),
        method: 'initialize',
        params: { ...this.options.init },
      };
      const entry = this.inflight.add(
        request,
        {
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
        { fromAgent: false, map: false, generation },
      );
      if (entry === undefined) return reject(new Error('initialize already in flight'));
      // The handshake has its own, shorter bound than a call.
      entry.at = Math.min(entry.at, Date.now() + INIT_TIMEOUT_MS);
      pipe.send(request, JSON.stringify(request)).catch((err: unknown) => {
        this.inflight.remove(entry);
        reject(err);
      });
    });
  }
}

function withParams(note: RpcNotification, params: Record<string, unknown>): Wire {
  return { msg: { ...note, params } };
}

function faultOf(err: UpstreamHttpError, server: string): RpcFault {
  const body = err.body?.msg as RpcResponse | undefined;
  return body?.error !== undefined
    ? new RpcFault(body.error.code, body.error.message, body.error.data)
    : new RpcFault(-32603, `upstream '${server}' answered HTTP ${err.status}`);
}

function isInitializeResult(value: unknown): value is InitializeResult {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  const info = r.serverInfo as Record<string, unknown> | null | undefined;
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
