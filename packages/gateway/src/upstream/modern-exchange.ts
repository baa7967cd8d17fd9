/**
 * 2026-era requests towards an HTTP upstream: one POST per request, no session. The body carries the
 * per-request envelope; the headers mirror it (MCP-Protocol-Version, Mcp-Method, Mcp-Name, as
 * SEP-2243 asks of every client) plus the `Mcp-Param-*` headers the agent sent, which an intermediary
 * must pass on. The answer is JSON or an event stream scoped to the request; closing that stream is
 * the request's cancellation.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import { MODERN_REVISION } from '../core/envelope.js';
import type { Id, RpcMessage, RpcNotification, RpcRequest, RpcResponse, Wire } from '../core/jsonrpc.js';
import { isResponse, RpcFault } from '../core/jsonrpc.js';
import { type Deadline, deadlines } from './deadlines.js';
import {
  CancelledError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.js';
import { describe, type HttpPool } from './http-exchange.js';
import type { LinkSink } from './link.js';
import type { UpstreamPool } from './pool.js';

export const GATEWAY_INFO = { name: 'bastion-gateway', version: '0.1.0' } as const;
export const LEGACY_REVISION = '2025-11-25';

/** The per-request envelope the gateway sends as a client of its own (discover, its own tools/list). */
export function gatewayEnvelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    [PROTOCOL_VERSION_META_KEY]: MODERN_REVISION,
    [CLIENT_INFO_META_KEY]: GATEWAY_INFO,
    [CLIENT_CAPABILITIES_META_KEY]: {},
    ...extra,
  };
}

const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** A header value as SEP-2243 encodes it: plain when it is safe ASCII, else the Base64 sentinel. */
export function headerValue(value: string): string {
  const plain =
    /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) &&
    !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The standard headers a 2026-era request carries, mirrored from its body. */
export function standardHeaders(
  message: RpcRequest | RpcNotification,
  revision = MODERN_REVISION,
): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': revision,
    'mcp-method': message.method,
  };
  const field = Object.hasOwn(NAME_SOURCE, message.method) ? NAME_SOURCE[message.method] : undefined;
  const value = field === undefined ? undefined : message.params?.[field];
  if (typeof value === 'string') headers['mcp-name'] = headerValue(value);
  return headers;
}

export interface ModernSend {
  pool: HttpPool;
  server: string;
  /** Configured and identity headers, plus the agent's Mcp-Param-* headers. */
  headers: Record<string, string>;
  /** Longest wait for the answer (progress resets it); a listen stream has none. */
  timeoutMs: number;
  /** Told when the upstream could not be reached (its era may have changed by the time it is back). */
  onUnreachable?(): void;
}

/**
 * Sends one 2026-era request; what relates to it and its answer go to `sink`. An error answer keeps
 * its HTTP status on the wire, so that a 400 or 404 of the upstream's reaches the agent as such.
 */
export function sendModern(
  send: ModernSend,
  request: RpcRequest,
  sink: LinkSink,
  signal?: AbortSignal,
): void {
  const controller = new AbortController();
  let settled = false;
  const settle = () => {
    settled = true;
    if (Number.isFinite(send.timeoutMs)) deadlines.delete(deadline);
    signal?.removeEventListener('abort', onAbort);
  };
  const deadline: Deadline = {
    at: Date.now() + send.timeoutMs,
    expire: () => {
      if (settled) return;
      settle();
      controller.abort();
      sink.fail(
        new UpstreamTimeoutError(`upstream '${send.server}' did not answer '${request.method}' in time`),
      );
    },
  };
  const onAbort = () => {
    if (settled) return;
    settle();
    controller.abort(); // closing the stream is the 2026 era's cancellation
    sink.fail(new CancelledError('cancelled by the agent'));
  };
  if (signal?.aborted) {
    onAbort();
    return;
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  if (Number.isFinite(send.timeoutMs)) deadlines.add(deadline);
  let status = 0;
  send.pool
    .exchange(
      { method: 'POST', headers: send.headers, body: JSON.stringify(request), signal: controller.signal },
      {
        onHead: (head) => {
          status = head.status;
        },
        onMessage: (wire) => {
          if (settled) return;
          const m = wire.msg;
          if (isResponse(m) && m.id === request.id) {
            settle();
            sink.final(status >= 400 ? { ...wire, status } : wire);
            return;
          }
          if (!isResponse(m)) {
            if ((m as RpcNotification).method === 'notifications/progress')
              deadline.at = Date.now() + send.timeoutMs;
            sink.related(wire);
          }
        },
        onEnd: (error) => {
          if (settled) return;
          settle();
          if (status >= 400 || status === 0)
            sink.fail(
              new RpcFault(
                -32603,
                `upstream '${send.server}' answered HTTP ${status} without a JSON-RPC answer`,
              ),
            );
          else
            sink.fail(
              new UpstreamLostError(
                `upstream '${send.server}' ended the answer to '${request.method}' without it${error ? ` (${error.message})` : ''}`,
              ),
            );
        },
      },
    )
    .then(
      () => undefined,
      (err: unknown) => {
        if (settled) return;
        settle();
        send.onUnreachable?.();
        sink.fail(
          new UpstreamUnavailableError(`upstream '${send.server}' could not be reached: ${describe(err)}`),
        );
      },
    );
}

/** The gateway's own 2026-era requests (its tools/list for the catalog, `--check`). */
export function modernCaller(pool: UpstreamPool, identity: string, timeoutMs = 30_000) {
  let sequence = 0;
  return (method: string, params: Record<string, unknown> = {}, signal?: AbortSignal) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const request: RpcRequest = {
        jsonrpc: '2.0',
        id: `bastion-${++sequence}`,
        method,
        params: { ...params, _meta: gatewayEnvelope() },
      };
      sendModern(
        {
          pool: pool.http as HttpPool,
          server: pool.server,
          headers: { ...pool.headersFor(identity), ...standardHeaders(request) },
          timeoutMs,
        },
        request,
        {
          related: () => undefined,
          final: (wire) => {
            const m = wire.msg as RpcResponse;
            if (m.error !== undefined) reject(new RpcFault(m.error.code, m.error.message, m.error.data));
            else resolve(m.result ?? {});
          },
          fail: reject,
        },
        signal,
      );
    });
}

export type { Id, RpcMessage, Wire };
