/**
 * The shapes a 2025-era session is made of, shared by the core and the era layer: what an agent's
 * initialize asks, what the upstream side tells a session, how a server's upstream is opened for
 * one, and the message channels agents come on besides Streamable HTTP.
 */
import type { Principal } from '../pipeline/context.js';
import type { InitializeResult } from '../upstream/link.js';
import type { RpcMessage } from './jsonrpc.js';
import type { AgentChannel } from './reply.js';
import type { AgentSession, SessionOwner } from './sessions.js';
import type { ServerRoute } from './tools.js';
import type { Upstream } from './upstream.js';

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

export interface LegacyRoute extends ServerRoute {
  /**
   * Opens the upstream for a 2025-era session (a link, or the era translation in front of it); with
   * `resume`, the upstream session another gateway process opened for it is continued.
   */
  openLegacy(
    session: AgentSession,
    init: InitializeParams,
    events: SessionEvents,
    resume?: { sessionId: string; init: InitializeResult },
  ): Promise<Upstream>;
}

/** A message channel an agent is on (the SDK's Transport shape). */
export interface ChannelTransport extends AgentChannel {
  start(): Promise<void>;
  close(): Promise<void>;
  /**
   * Set by the core. Typed to take anything, so that the SDKs' transports (typed with their own
   * message types) fit as they are; every message is checked with `kindOf` before it is used.
   */
  onmessage?: (message: never) => void;
  onclose?(): void;
  onerror?(error: Error): void;
}

export interface ChannelSession {
  readonly id: string;
  close(): Promise<void>;
}

/** Whether the upstream announces tool-list changes (so its agents may be told of the policy's too). */
export function listsChanges(upstream: Upstream | undefined): boolean {
  return (upstream?.init?.capabilities?.tools as { listChanged?: boolean } | undefined)?.listChanged === true;
}

export function ownerOf(session: AgentSession): Principal {
  return { id: session.owner.id, kind: session.owner.kind };
}

export function ownerFrom(principal: Principal): SessionOwner {
  return { id: principal.id, kind: principal.kind };
}

/** The params of an `initialize`, checked (tasks left out: the gateway passes no task support on). */
export function initializeParams(params: Record<string, unknown> | undefined): InitializeParams | undefined {
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
