/**
 * What an agent's messages go to, whatever the upstream's era and transport: the upstream session
 * the gateway holds for a 2025-era agent (a `Link`), or an era translation in front of the upstream
 * (`gateway/src/era/`). The core sees only this interface.
 */
import type { InitializeResult, LinkSink } from '../upstream/link.js';
import type { RpcNotification, RpcRequest, RpcResponse } from './jsonrpc.js';

export interface Upstream {
  /** What the agent is shown on `initialize`: the upstream's capabilities, serverInfo, instructions. */
  readonly init: InitializeResult | undefined;
  /** The upstream's own 2025-era session id, when there is one (recorded for other processes). */
  readonly sessionId?: string | undefined;
  /** Sends an agent's request; its answer and related messages go to `sink`. */
  request(request: RpcRequest, sink: LinkSink, signal?: AbortSignal, options?: RequestOptions): void;
  /** The gateway's own request (a tools/list for the catalog, a replay after a reconnect). */
  call(
    method: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>>;
  notify(notification: RpcNotification): void;
  /** The agent's answer to a server-to-client request. */
  respond(response: RpcResponse): void;
  /** Whether the agent listens for the upstream's own messages (list changes, resource updates). */
  listen(on: boolean): void;
  close(clean?: boolean): Promise<void>;
}

export interface RequestOptions {
  /** Headers of the agent's request an intermediary passes on (2026 era: `Mcp-Param-*`). */
  headers?: Readonly<Record<string, string>>;
  /** A request whose answer is a long-lived stream (`subscriptions/listen`): it never times out. */
  longLived?: boolean;
}

export type { LinkSink };
