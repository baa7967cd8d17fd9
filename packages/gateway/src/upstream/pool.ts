/**
 * Everything the gateway holds towards one upstream server: its connection pool (HTTP keep-alive
 * sockets shared by all agents, never a socket set per session), the headers it sends (configured
 * ones and, when configured, the identity header), and how a new upstream session is opened on the
 * server's transport.
 */
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config.js';
import type { BackoffOptions } from './backoff.js';
import { HttpPool } from './http-exchange.js';
import { HttpSessionPipe } from './http-pipe.js';
import { type InitializeParams, type InitializeResult, Link, type LinkEvents } from './link.js';
import type { Pipe } from './pipe.js';
import { SsePipe } from './sse-pipe.js';
import { StdioPipe } from './stdio-pipe.js';

export interface PoolOptions {
  server: string;
  upstream: UpstreamConfig;
  timeoutMs: number;
  logger: Logger;
  backoff?: BackoffOptions;
  reconnectWaitMs?: number;
}

/** Header values are visible ASCII; a grant label or session id outside it is percent-encoded. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(value) ? value : encodeURIComponent(value).slice(0, 200);
}

export class UpstreamPool {
  readonly http: HttpPool | undefined;
  private readonly links = new Set<Link>();

  constructor(readonly options: PoolOptions) {
    const upstream = options.upstream;
    this.http = upstream.transport === 'stdio' ? undefined : new HttpPool(upstream.url);
  }

  get server(): string {
    return this.options.server;
  }

  get transport(): UpstreamConfig['transport'] {
    return this.options.upstream.transport;
  }

  /**
   * The headers of a request made for `identity` (the grant, or the grant and the agent's session):
   * the configured ones, and the identity header when the upstream asked for one, so that its
   * stateless-era state is kept per agent and never shared between agents behind the gateway.
   */
  headersFor(identity: string): Record<string, string> {
    const upstream = this.options.upstream;
    if (upstream.transport === 'stdio') return {};
    const name = upstream.identityHeader;
    return name === undefined ? upstream.headers : { ...upstream.headers, [name]: headerSafe(identity) };
  }

  /** A pipe of the server's transport, for one upstream session. */
  openPipe(identity: string): Pipe {
    const upstream = this.options.upstream;
    switch (upstream.transport) {
      case 'stdio':
        return new StdioPipe(upstream, this.options.logger);
      case 'http':
        return new HttpSessionPipe(this.http as HttpPool, this.headersFor(identity));
      case 'sse':
        return new SsePipe(this.http as HttpPool, this.headersFor(identity));
    }
  }

  /** A 2025-era upstream session; `shared` when several agents send through it. */
  link(
    init: InitializeParams,
    identity: string,
    events: LinkEvents,
    shared: boolean,
    resume?: { sessionId: string; init: InitializeResult },
  ): Link {
    return this.newLink(resume === undefined ? { init } : { init, resume }, identity, events, shared);
  }

  /** A 2026-era connection (a stdio process): no handshake; every request carries its envelope. */
  modernLink(presented: InitializeResult, identity: string, events: LinkEvents, shared: boolean): Link {
    return this.newLink({ presented }, identity, events, shared);
  }

  private newLink(
    era:
      | { init: InitializeParams; resume?: { sessionId: string; init: InitializeResult } }
      | { presented: InitializeResult },
    identity: string,
    events: LinkEvents,
    shared: boolean,
  ): Link {
    const link: Link = new Link({
      onClosed: () => this.links.delete(link),
      server: this.options.server,
      openPipe: () => this.openPipe(identity),
      ...era,
      shared,
      timeoutMs: this.options.timeoutMs,
      logger: this.options.logger,
      events,
      ...(this.options.backoff === undefined ? {} : { backoff: this.options.backoff }),
      ...(this.options.reconnectWaitMs === undefined
        ? {}
        : { reconnectWaitMs: this.options.reconnectWaitMs }),
    });
    this.links.add(link);
    return link;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links].map((l) => l.close(true)));
    this.http?.close();
  }
}
