/**
 * A 2025-era Streamable HTTP session towards an upstream, over the server's shared connection pool:
 * each message is one POST carrying the session id and protocol version; a request's answer (and what
 * relates to it) comes back on that POST's response, as JSON or as an event stream; messages the
 * server sends on its own come on the GET stream, opened only while something downstream listens;
 * DELETE ends the session.
 */
import type { Id, RpcMessage, Wire } from '../core/jsonrpc.js';
import { isRequest, isResponse } from '../core/jsonrpc.js';
import { type HttpPool, UpstreamNotDeliveredError } from './http-exchange.js';
import { type Pipe, type PipeEvents, SessionGoneError, UpstreamHttpError } from './pipe.js';

/** How long to wait before reopening a GET stream that ended while someone listens. */
const RELISTEN_MS = 1000;

export class HttpSessionPipe implements Pipe {
  private events: PipeEvents | undefined;
  private session: string | undefined;
  private protocolVersion: string | undefined;
  private listening = false;
  private getStream: AbortController | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly pool: HttpPool,
    /** Configured headers (auth) and the identity header, sent with every request. */
    private readonly headers: Readonly<Record<string, string>>,
  ) {}

  get sessionId(): string | undefined {
    return this.session;
  }

  async start(events: PipeEvents): Promise<void> {
    this.events = events;
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  adopt(sessionId: string, protocolVersion: string): void {
    this.session = sessionId;
    this.protocolVersion = protocolVersion;
  }

  async send(message: RpcMessage, text: string): Promise<void> {
    if (this.closed) throw new UpstreamNotDeliveredError('the upstream session is closed');
    const events = this.events;
    const via = isRequest(message) ? message.id : undefined;
    let answered = via === undefined;
    let ok = false;
    let body: Wire | undefined;
    let ended: () => void = () => undefined;
    const bodyRead = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const head = await this.pool.exchange(
      {
        method: 'POST',
        headers: this.requestHeaders({ accept: 'application/json, text/event-stream' }),
        body: text,
      },
      {
        onHead: (head) => {
          ok = head.status >= 200 && head.status < 300;
          const sessionId = head.headers['mcp-session-id'];
          if (ok && typeof sessionId === 'string' && sessionId !== '') this.session = sessionId;
        },
        onMessage: (wire) => {
          if (!ok) {
            body ??= wire;
            return;
          }
          if (via !== undefined && isResponse(wire.msg) && wire.msg.id === via) answered = true;
          events?.onMessage(wire, via);
        },
        onEnd: () => {
          ended();
          if (ok && !answered && via !== undefined && !this.closed) events?.onUnanswered(via);
        },
      },
    );
    if (ok) return;
    if (head.status === 404 && this.session !== undefined)
      throw new SessionGoneError(`the upstream does not know session ${this.session}`);
    await bodyRead;
    throw new UpstreamHttpError(head.status, `the upstream answered HTTP ${head.status}`, body);
  }

  listen(on: boolean): void {
    if (on === this.listening) return;
    this.listening = on;
    if (on) this.openGetStream();
    else {
      clearTimeout(this.relisten);
      this.getStream?.abort();
      this.getStream = undefined;
    }
  }

  async close(clean: boolean): Promise<void> {
    if (this.closed) return;
    this.listen(false);
    this.closed = true;
    if (clean && this.session !== undefined) {
      // Ends the session upstream; a server that does not allow DELETE answers 405, which is fine.
      await this.pool
        .exchange(
          { method: 'DELETE', headers: this.requestHeaders({}) },
          { onMessage: () => undefined, onEnd: () => undefined },
        )
        .catch(() => undefined);
    }
  }

  private requestHeaders(extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { ...this.headers, ...extra };
    if (this.session !== undefined) headers['mcp-session-id'] = this.session;
    if (this.protocolVersion !== undefined) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  private openGetStream(): void {
    if (this.closed || !this.listening || this.session === undefined || this.getStream !== undefined) return;
    const controller = new AbortController();
    this.getStream = controller;
    const again = () => {
      if (this.getStream !== controller) return;
      this.getStream = undefined;
      if (this.closed || !this.listening) return;
      this.relisten = setTimeout(() => this.openGetStream(), RELISTEN_MS);
      this.relisten.unref();
    };
    this.pool
      .exchange(
        {
          method: 'GET',
          headers: this.requestHeaders({ accept: 'text/event-stream' }),
          signal: controller.signal,
        },
        {
          onMessage: (wire) => this.events?.onMessage(wire, undefined),
          onEnd: () => again(),
        },
      )
      .then(
        (head) => {
          // 405: the server offers no GET stream; it is not asked again for this session.
          if (head.status === 405) this.getStream = controller;
          else if (head.status === 404) {
            this.getStream = undefined;
            this.events?.onClosed('the upstream does not know the session (GET 404)');
          } else if (head.status < 200 || head.status >= 300) again();
        },
        () => again(),
      );
  }
}

export type { Id };
