/**
 * 2026-era agents in front of a 2025-only upstream (a stdio server, an SDK-v1 server, a legacy SSE
 * server). The gateway holds one upstream session per grant (its `identity`) and set of client
 * capabilities (usually one) and multiplexes those requests on it, ids and progress tokens mapped
 * (the link does that). On the way:
 *
 *   - `server/discover` is answered from the session's `initialize` result;
 *   - the per-request envelope is taken off each request; its log level filters the log messages that
 *     reach that request (the session itself logs everything at `debug`); results gain the 2026
 *     fields (`resultType`, the cache hints, the server's identity in `_meta`);
 *   - a request for input from the upstream becomes an `input_required` round (held-calls.ts);
 *   - `subscriptions/listen` is served from the session's own notifications: list changes, and
 *     resource updates for URIs the gateway subscribes to upstream while some stream wants them.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  SERVER_INFO_META_KEY,
  SUBSCRIPTION_ID_META_KEY,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { MODERN_REVISION } from '../core/envelope.js';
import {
  type Id,
  RpcFault,
  type RpcNotification,
  type RpcRequest,
  type RpcResponse,
  resultMessage,
  type Wire,
} from '../core/jsonrpc.js';
import { METHODS } from '../core/methods.js';
import type { RequestOptions, Upstream } from '../core/upstream.js';
import type { UpstreamServer } from '../upstream/directory.js';
import { CancelledError } from '../upstream/errors.js';
import type { InitializeResult, Link, LinkSink } from '../upstream/link.js';
import { GATEWAY_INFO, LEGACY_REVISION } from '../upstream/modern-exchange.js';
import { attachmentOf, HeldCall, type HeldHost, openState, type StateSeal } from './held-calls.js';

/** The client capabilities a 2025-era server reads at `initialize`: what it may ask a client for. */
const ASKABLE = ['elicitation', 'sampling', 'roots'] as const;

/**
 * What the held session declares upstream: the agents' own capabilities (their envelope's), so that
 * a server which asks only what its client can answer (as a well-behaved 2025-era server does)
 * behaves as it would towards the agent directly. The gateway holds one session per grant and set.
 */
export function askableCapabilities(request: RpcRequest): Record<string, unknown> {
  const meta = request.params?._meta as Record<string, unknown> | undefined;
  const declared = meta?.[CLIENT_CAPABILITIES_META_KEY];
  const capabilities: Record<string, unknown> = {};
  if (declared === null || typeof declared !== 'object') return capabilities;
  for (const key of ASKABLE) {
    const value = (declared as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object') capabilities[key] = value;
  }
  return capabilities;
}

interface Listener {
  id: Id;
  sink: LinkSink;
  filter: { tools: boolean; prompts: boolean; resources: boolean; uris: ReadonlySet<string> };
}

/** The params a 2025-era upstream gets: no envelope keys, no MRTR retry fields. */
function legacyParams(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (params === undefined) return undefined;
  const { _meta, inputResponses: _r, requestState: _s, ...rest } = params;
  if (_meta === null || typeof _meta !== 'object') return rest;
  const meta: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(_meta))
    if (!key.startsWith('io.modelcontextprotocol/')) meta[key] = value;
  return Object.keys(meta).length > 0 ? { ...rest, _meta: meta } : rest;
}

export class ModernToLegacy implements Upstream, HeldHost {
  lastUsed = Date.now();
  private readonly held = new Map<string, HeldCall>();
  private readonly listeners = new Set<Listener>();
  private readonly subscribed = new Map<string, number>();

  private constructor(
    private readonly server: UpstreamServer,
    readonly identity: string,
    private readonly seal: StateSeal,
    private readonly logger: Logger,
    private link: Link,
  ) {}

  /** Opens the grant's upstream session. */
  static async open(
    server: UpstreamServer,
    identity: string,
    capabilities: Record<string, unknown>,
    seal: StateSeal,
    logger: Logger,
    onReconnected: () => void = () => undefined,
  ): Promise<ModernToLegacy> {
    let translation: ModernToLegacy | undefined;
    const link = server.pool.link(
      { protocolVersion: LEGACY_REVISION, capabilities, clientInfo: { ...GATEWAY_INFO } },
      identity,
      {
        unsolicited: (wire) => translation?.unsolicited(wire),
        reconnected: async (l) => {
          onReconnected();
          await translation?.prepare(l);
        },
      },
      true,
    );
    translation = new ModernToLegacy(server, identity, seal, logger, link);
    // The held session always listens: an SDK-v1 server sends the requests a tool makes
    // (`server.elicitInput()`) on its GET stream, and one sent before a stream opened would be lost.
    link.listen(true);
    try {
      await link.open();
      await translation.prepare(link);
    } catch (err) {
      await link.close(false);
      throw err;
    }
    return translation;
  }

  get init(): InitializeResult | undefined {
    const init = this.link.init;
    return init === undefined ? undefined : { ...init, protocolVersion: MODERN_REVISION };
  }

  /** Whether nothing runs on it: no call held, no stream listening. */
  get idle(): boolean {
    return this.held.size === 0 && this.listeners.size === 0;
  }

  request(request: RpcRequest, sink: LinkSink, signal?: AbortSignal, _options?: RequestOptions): void {
    this.lastUsed = Date.now();
    if (request.method === 'server/discover') {
      sink.final({ msg: resultMessage(request.id, this.discover()) });
      return;
    }
    if (request.method === 'subscriptions/listen') {
      this.openListen(request, sink, signal);
      return;
    }
    const state = request.params?.requestState;
    const attachment = attachmentOf(request, sink);
    if (state !== undefined) {
      const heldId = openState(this.seal, state, this.identity, request);
      const held = typeof heldId === 'string' ? this.held.get(heldId) : undefined;
      if (held === undefined) {
        sink.fail(
          heldId instanceof RpcFault
            ? heldId
            : new RpcFault(-32602, 'Invalid params: requestState has expired'),
        );
        return;
      }
      const responses = request.params?.inputResponses;
      held.resume(
        attachment,
        responses !== null && typeof responses === 'object' ? (responses as Record<string, unknown>) : {},
        signal,
      );
      return;
    }
    const held = new HeldCall(request, this.identity, this, this.seal);
    this.held.set(held.id, held);
    held.attach(attachment, signal);
    const params = legacyParams(request.params);
    this.link.request(
      { jsonrpc: '2.0', id: request.id, method: request.method, ...(params === undefined ? {} : { params }) },
      held.sink,
      held.controller.signal,
    );
  }

  call(
    method: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return this.link.call(method, legacyParams(params), signal);
  }

  notify(): void {}

  respond(response: RpcResponse): void {
    this.link.respond(response);
  }

  listen(): void {}

  async close(): Promise<void> {
    for (const entry of this.listeners) entry.sink.final({ msg: this.graceful(entry.id) });
    this.listeners.clear();
    for (const held of [...this.held.values()]) held.cancel('the gateway is closing');
    await this.link.close(true);
  }

  // HeldHost

  finish(method: string, wire: Wire, agentId: Id): Wire {
    const m = wire.msg as RpcResponse;
    if (m.result === undefined) return m.id === agentId ? wire : { msg: { ...m, id: agentId } };
    const result: Record<string, unknown> = { ...m.result, resultType: 'complete' };
    if (METHODS[method]?.cacheable) {
      result.ttlMs ??= 0;
      result.cacheScope ??= 'private';
    }
    const info = this.link.init?.serverInfo;
    if (info !== undefined)
      result._meta = { ...(m.result._meta as object | undefined), [SERVER_INFO_META_KEY]: info };
    return { msg: resultMessage(agentId, result) };
  }

  release(held: HeldCall): void {
    this.held.delete(held.id);
  }

  // The rest of the translation.

  /** After every (re)connect: the session logs everything; each request's own level filters it. */
  private async prepare(link: Link): Promise<void> {
    this.link = link;
    if (link.init?.capabilities.logging !== undefined)
      await link.call('logging/setLevel', { level: 'debug' });
    for (const uri of this.subscribed.keys()) await link.call('resources/subscribe', { uri });
  }

  private discover(): Record<string, unknown> {
    const init = this.link.init;
    const { tasks: _tasks, ...capabilities } = init?.capabilities ?? {};
    return {
      resultType: 'complete',
      supportedVersions: [MODERN_REVISION],
      capabilities,
      ...(init?.instructions === undefined ? {} : { instructions: init.instructions }),
      ttlMs: 0,
      cacheScope: 'private',
      _meta: { [SERVER_INFO_META_KEY]: init?.serverInfo ?? { name: this.server.name, version: '0' } },
    };
  }

  private openListen(request: RpcRequest, sink: LinkSink, signal?: AbortSignal): void {
    const wanted = (request.params?.notifications ?? {}) as Record<string, unknown>;
    const caps = (this.link.init?.capabilities ?? {}) as Record<
      string,
      { listChanged?: boolean; subscribe?: boolean } | undefined
    >;
    const uris =
      Array.isArray(wanted.resourceSubscriptions) && caps.resources?.subscribe === true
        ? wanted.resourceSubscriptions.filter((u): u is string => typeof u === 'string')
        : [];
    const filter = {
      tools: wanted.toolsListChanged === true && caps.tools?.listChanged === true,
      prompts: wanted.promptsListChanged === true && caps.prompts?.listChanged === true,
      resources: wanted.resourcesListChanged === true && caps.resources?.listChanged === true,
      uris: new Set(uris),
    };
    const entry: Listener = { id: request.id, sink, filter };
    this.listeners.add(entry);
    for (const uri of uris) this.subscribe(uri, 1);
    const honored: Record<string, unknown> = {};
    if (filter.tools) honored.toolsListChanged = true;
    if (filter.prompts) honored.promptsListChanged = true;
    if (filter.resources) honored.resourcesListChanged = true;
    if (uris.length > 0) honored.resourceSubscriptions = uris;
    sink.related({
      msg: {
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: request.id }, notifications: honored },
      },
    });
    signal?.addEventListener(
      'abort',
      () => {
        if (!this.listeners.delete(entry)) return;
        for (const uri of uris) this.subscribe(uri, -1);
        sink.fail(new CancelledError('the agent closed its listen stream'));
      },
      { once: true },
    );
  }

  /** Counts the streams that want `uri`, and subscribes or unsubscribes upstream at the edges. */
  private subscribe(uri: string, delta: number): void {
    const count = (this.subscribed.get(uri) ?? 0) + delta;
    if (count > 0) this.subscribed.set(uri, count);
    else this.subscribed.delete(uri);
    const edge = delta > 0 ? count === 1 : count === 0;
    if (!edge) return;
    this.link
      .call(delta > 0 ? 'resources/subscribe' : 'resources/unsubscribe', { uri })
      .catch((err: unknown) => this.logger.debug({ err, uri }, 'resource subscription not changed upstream'));
  }

  /** What the upstream sends on its own: to the listen streams that asked for it. */
  private unsolicited(wire: Wire): void {
    const m = wire.msg as RpcNotification;
    if ('id' in m) {
      // A request outside any call has no 2026-era agent to go to: refused, as a client without it would.
      this.link.respond({
        jsonrpc: '2.0',
        id: (m as unknown as RpcRequest).id,
        error: { code: -32601, message: 'Method not found' },
      });
      return;
    }
    for (const entry of this.listeners) {
      const f = entry.filter;
      const wants =
        (m.method === 'notifications/tools/list_changed' && f.tools) ||
        (m.method === 'notifications/prompts/list_changed' && f.prompts) ||
        (m.method === 'notifications/resources/list_changed' && f.resources) ||
        (m.method === 'notifications/resources/updated' && f.uris.has(String(m.params?.uri)));
      if (!wants) continue;
      const params = m.params ?? {};
      entry.sink.related({
        msg: {
          jsonrpc: '2.0',
          method: m.method,
          params: {
            ...params,
            _meta: { ...(params._meta as object | undefined), [SUBSCRIPTION_ID_META_KEY]: entry.id },
          },
        },
      });
    }
  }

  private graceful(id: Id): RpcResponse {
    return resultMessage(id, { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: id } });
  }
}
