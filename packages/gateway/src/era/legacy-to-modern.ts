/**
 * A 2025-era agent in front of a 2026-only upstream. The gateway gives the agent its session and
 * turns each of its requests into a 2026-era one: the per-request envelope carries what the agent
 * said at `initialize` (its clientInfo and capabilities) and the log level it set; the identity
 * header names the grant and this session, so the upstream keeps this agent's state apart. On the way
 * back:
 *
 *   - results lose the 2026 fields a 2025 client does not know (`resultType`, the cache hints);
 *   - an `input_required` result is served as the 2025 era would have: each input request is sent to
 *     the agent as a server-to-client request, and the call is retried upstream with the answers (the
 *     SDK's own "legacy shim" does the same, at most 8 rounds);
 *   - `logging/setLevel`, `resources/subscribe` and `resources/unsubscribe` are kept by the gateway;
 *     the upstream's `subscriptions/listen` stream, with the list changes its capabilities offer and
 *     the subscribed URIs, is open while the agent holds its GET stream, and what it sends goes there.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SUBSCRIPTION_ID_META_KEY,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { MODERN_REVISION } from '../core/envelope.js';
import type { InitializeParams, SessionEvents } from '../core/forward.js';
import {
  type Id,
  RpcFault,
  type RpcNotification,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
  type Wire,
} from '../core/jsonrpc.js';
import type { RequestOptions, Upstream } from '../core/upstream.js';
import { CancelledError } from '../upstream/errors.js';
import type { InitializeResult, LinkSink } from '../upstream/link.js';
import { SERVER_REQUESTS } from './held-calls.js';

const SUPPORTED_LEGACY = new Set(['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']);
/** The SDK's legacy shim allows 8 rounds; so does the gateway. */
const MAX_ROUNDS = 8;
const RELISTEN_MS = 1000;

/** A 2026-era result as a 2025-era client expects it. */
function legacyAnswer(wire: Wire, id: Id): Wire {
  const m = wire.msg as RpcResponse;
  // An error goes back without the 2026 era's HTTP status: a 2025-era client reads it from a 200.
  if (m.result === undefined) return { msg: m.id === id ? m : { ...m, id } };
  const { resultType: _t, ttlMs: _ttl, cacheScope: _scope, ...result } = m.result;
  return { msg: resultMessage(id, result) };
}

export class LegacyToModern implements Upstream {
  readonly init: InitializeResult;
  private level: string | undefined;
  private readonly subscriptions = new Set<string>();
  private listening = false;
  private stream: AbortController | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private readonly asks = new Map<Id, (response: RpcResponse) => void>();
  private sequence = 0;
  private closed = false;

  constructor(
    /** The 2026-era upstream the requests go to (HTTP, or a stdio process of this session's own). */
    private readonly modern: Upstream,
    private readonly agent: InitializeParams,
    private readonly events: SessionEvents,
    private readonly logger: Logger,
  ) {
    const presented = modern.init as InitializeResult;
    this.init = {
      ...presented,
      protocolVersion: SUPPORTED_LEGACY.has(agent.protocolVersion) ? agent.protocolVersion : '2025-11-25',
    };
  }

  request(request: RpcRequest, sink: LinkSink, signal?: AbortSignal, options: RequestOptions = {}): void {
    const params = request.params ?? {};
    switch (request.method) {
      case 'logging/setLevel':
        this.level = typeof params.level === 'string' ? params.level : undefined;
        sink.final({ msg: resultMessage(request.id, {}) });
        return;
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        if (typeof params.uri === 'string') {
          if (request.method === 'resources/subscribe') this.subscriptions.add(params.uri);
          else this.subscriptions.delete(params.uri);
          this.restartListen();
        }
        sink.final({ msg: resultMessage(request.id, {}) });
        return;
      default:
        void this.round(request, sink, signal, options, 0, undefined);
    }
  }

  call(
    method: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return this.modern.call(method, params, signal);
  }

  notify(_notification: RpcNotification): void {
    // 2026-era servers take no notifications; cancellation closes the request's stream instead.
  }

  /** The agent's answer to a server-to-client request the gateway sent it for an input_required round. */
  respond(response: RpcResponse): void {
    if (response.id !== null) this.asks.get(response.id)?.(response);
  }

  listen(on: boolean): void {
    this.listening = on;
    this.restartListen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    this.restartListen();
    const closing: RpcResponse = {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32603, message: 'the session closed' },
    };
    for (const answer of [...this.asks.values()]) answer(closing);
    await this.modern.close();
  }

  /** One round of a request upstream; an `input_required` answer leads to the next. */
  private async round(
    request: RpcRequest,
    sink: LinkSink,
    signal: AbortSignal | undefined,
    options: RequestOptions,
    round: number,
    input: { inputResponses: Record<string, unknown>; requestState?: unknown } | undefined,
  ): Promise<void> {
    const meta = (request.params?._meta ?? {}) as Record<string, unknown>;
    const upstreamRequest: RpcRequest = {
      jsonrpc: '2.0',
      // A retry is a new request (MRTR): its id differs from the first round's.
      id: round === 0 ? request.id : `bastion-round-${++this.sequence}`,
      method: request.method,
      params: {
        ...request.params,
        ...(input === undefined ? {} : input),
        _meta: {
          ...meta,
          [PROTOCOL_VERSION_META_KEY]: MODERN_REVISION,
          [CLIENT_INFO_META_KEY]: this.agent.clientInfo,
          [CLIENT_CAPABILITIES_META_KEY]: this.agent.capabilities,
          ...(this.level === undefined ? {} : { [LOG_LEVEL_META_KEY]: this.level }),
        },
      },
    };
    this.modern.request(
      upstreamRequest,
      {
        related: (wire) => sink.related(wire),
        final: (wire) => {
          const result = (wire.msg as RpcResponse).result;
          if (result?.resultType !== 'input_required') return sink.final(legacyAnswer(wire, request.id));
          if (round + 1 >= MAX_ROUNDS)
            return sink.fail(new RpcFault(-32603, `more than ${MAX_ROUNDS} input_required rounds`));
          void this.gather(result, sink, signal).then(
            (answers) => this.round(request, sink, signal, options, round + 1, answers),
            (err: unknown) => sink.fail(err instanceof Error ? err : new Error(String(err))),
          );
        },
        fail: (err) => sink.fail(err),
      },
      signal,
      options,
    );
  }

  /** Asks the agent each input request as a server-to-client request; their answers, by key. */
  private async gather(
    result: Record<string, unknown>,
    sink: LinkSink,
    signal: AbortSignal | undefined,
  ): Promise<{ inputResponses: Record<string, unknown>; requestState?: unknown }> {
    const asked = (result.inputRequests ?? {}) as Record<string, { method?: string; params?: unknown }>;
    const entries = await Promise.all(
      Object.entries(asked).map(async ([key, input]) => {
        const method = String(input.method);
        const capability = SERVER_REQUESTS[method];
        if (capability === undefined || this.agent.capabilities[capability] === undefined)
          throw new RpcFault(-32603, `the upstream asked for ${method}, which this client does not support`);
        const answer = await this.ask(method, input.params, sink, signal);
        if (answer.error !== undefined)
          throw new RpcFault(answer.error.code, answer.error.message, answer.error.data);
        return [key, answer.result] as const;
      }),
    );
    return {
      inputResponses: Object.fromEntries(entries),
      ...(result.requestState === undefined ? {} : { requestState: result.requestState }),
    };
  }

  private ask(
    method: string,
    params: unknown,
    sink: LinkSink,
    signal: AbortSignal | undefined,
  ): Promise<RpcResponse> {
    return new Promise<RpcResponse>((resolve, reject) => {
      if (this.closed) return reject(new CancelledError('the session closed'));
      const id = `bastion-ask-${++this.sequence}`;
      const abort = () => {
        this.asks.delete(id);
        reject(new CancelledError('cancelled by the agent'));
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.asks.set(id, (response) => {
        this.asks.delete(id);
        signal?.removeEventListener('abort', abort);
        resolve(response);
      });
      // On the request's own stream, as a 2025-era server sends a request a call needs.
      sink.related({
        msg: { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) } as RpcRequest,
      });
    });
  }

  /** (Re)opens the upstream listen stream with the current filter while the agent listens. */
  private restartListen(): void {
    clearTimeout(this.relisten);
    this.stream?.abort();
    this.stream = undefined;
    if (!this.listening || this.closed) return;
    const caps = this.init.capabilities as Record<
      string,
      { listChanged?: boolean; subscribe?: boolean } | undefined
    >;
    const notifications: Record<string, unknown> = {};
    if (caps.tools?.listChanged) notifications.toolsListChanged = true;
    if (caps.prompts?.listChanged) notifications.promptsListChanged = true;
    if (caps.resources?.listChanged) notifications.resourcesListChanged = true;
    if (caps.resources?.subscribe && this.subscriptions.size > 0)
      notifications.resourceSubscriptions = [...this.subscriptions];
    if (Object.keys(notifications).length === 0) return;
    const controller = new AbortController();
    this.stream = controller;
    const request: RpcRequest = {
      jsonrpc: '2.0',
      id: `bastion-listen-${++this.sequence}`,
      method: 'subscriptions/listen',
      params: {
        notifications,
        _meta: {
          [PROTOCOL_VERSION_META_KEY]: MODERN_REVISION,
          [CLIENT_INFO_META_KEY]: this.agent.clientInfo,
          [CLIENT_CAPABILITIES_META_KEY]: this.agent.capabilities,
        },
      },
    };
    const again = () => {
      if (this.stream !== controller || !this.listening || this.closed) return;
      this.stream = undefined;
      this.relisten = setTimeout(() => this.restartListen(), RELISTEN_MS);
      this.relisten.unref();
    };
    this.modern.request(
      request,
      {
        related: (wire) => {
          const m = wire.msg as RpcNotification;
          if (m.method === 'notifications/subscriptions/acknowledged') return;
          const { _meta, ...params } = m.params ?? {};
          const meta = { ...(_meta as Record<string, unknown> | undefined) };
          delete meta[SUBSCRIPTION_ID_META_KEY];
          this.events.push({
            msg: {
              jsonrpc: '2.0',
              method: m.method,
              params: Object.keys(meta).length > 0 ? { ...params, _meta: meta } : params,
            },
          });
        },
        final: () => again(),
        fail: (err) => {
          if (!(err instanceof CancelledError))
            this.logger.debug({ err: err.message }, 'upstream listen stream ended');
          again();
        },
      },
      controller.signal,
      { longLived: true },
    );
  }
}
