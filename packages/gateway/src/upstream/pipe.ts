/**
 * A pipe carries the messages of one stateful upstream connection: a 2025-era session over
 * Streamable HTTP, a child process over stdio, or a legacy HTTP+SSE session. The link above it
 * (link.ts) knows MCP; a pipe only moves messages and says when its connection is gone.
 *
 * `via` tells the link which request a message arrived for: over Streamable HTTP each POST has its
 * own response stream, so a progress note or a server-to-client request on it belongs to that
 * request exactly; stdio and legacy SSE have one channel, and `via` is undefined.
 */
import type { Id, RpcMessage, Wire } from '../core/jsonrpc.js';

export interface PipeEvents {
  /** A message from the upstream; `via` is the request whose response stream carried it. */
  onMessage(wire: Wire, via: Id | undefined): void;
  /** A request's response stream ended without its answer (an upstream that shut down cleanly). */
  onUnanswered(id: Id): void;
  /** The connection is gone (a process exited, a stream broke); nothing more will arrive. */
  onClosed(reason: string): void;
}

export interface Pipe {
  /** Set once the upstream named a session (HTTP); stdio and SSE have none. */
  readonly sessionId: string | undefined;
  start(events: PipeEvents): Promise<void>;
  /**
   * Sends one message. Rejects with UpstreamNotDeliveredError when it did not reach the upstream, and
   * with SessionGoneError when the upstream does not know the session (it restarted).
   */
  send(message: RpcMessage, text: string): Promise<void>;
  /** After `initialize`: the negotiated protocol version (sent as a header over HTTP). */
  setProtocolVersion(version: string): void;
  /** Continues an upstream session opened elsewhere (HTTP only): its id and protocol version. */
  adopt?(sessionId: string, protocolVersion: string): void;
  /**
   * Messages the upstream sends on its own (not for a request) need a listening stream over HTTP
   * (the GET stream); it is open only while someone downstream listens. Other pipes always listen.
   */
  listen(on: boolean): void;
  /** Closes the connection; `clean` ends the session upstream too (HTTP DELETE, stdin closed). */
  close(clean: boolean): Promise<void>;
}

/** The upstream answered 404 for the session: it restarted and forgot it. */
export class SessionGoneError extends Error {
  override readonly name = 'SessionGoneError';
}

/** The upstream answered a POST with an HTTP error that is not about the session. */
export class UpstreamHttpError extends Error {
  override readonly name = 'UpstreamHttpError';
  constructor(
    readonly status: number,
    message: string,
    /** A JSON-RPC error the body carried, if any. */
    readonly body?: Wire,
  ) {
    super(message);
  }
}
