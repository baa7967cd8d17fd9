/**
 * A 2026-era agent in front of a 2026-era HTTP upstream: nothing to translate. Each request goes
 * upstream as the agent sent it (its envelope included), on the server's shared connection pool,
 * with the identity header naming the agent's grant; its answer, JSON or an event stream, comes back
 * untouched. The object holds no state of its own: a 2026-era agent costs the gateway nothing between
 * requests.
 */
import { SERVER_INFO_META_KEY } from '@modelcontextprotocol/server';
import type { RpcRequest } from '../core/jsonrpc.js';
import { withoutTasksExtension } from '../core/tasks.js';
import type { RequestOptions, Upstream } from '../core/upstream.js';
import type { EraVerdict, UpstreamServer } from './directory.js';
import type { HttpPool } from './http-exchange.js';
import type { InitializeResult, LinkSink } from './link.js';
import { modernCaller, sendModern, standardHeaders } from './modern-exchange.js';

/** What the agent is shown of a 2026-era upstream: its discover result, in initialize terms. */
export function presentedOf(discover: Record<string, unknown>, server: string): InitializeResult {
  const meta = discover._meta as Record<string, unknown> | undefined;
  const info = meta?.[SERVER_INFO_META_KEY] as InitializeResult['serverInfo'] | undefined;
  const { tasks: _tasks, ...shown } = (discover.capabilities ?? {}) as Record<string, unknown>;
  // Nor the tasks extension: the gateway serves no tasks (core/tasks.ts).
  const capabilities = withoutTasksExtension(shown) ?? shown;
  return {
    protocolVersion: '2026-07-28',
    capabilities,
    serverInfo: info !== undefined && typeof info.name === 'string' ? info : { name: server, version: '0' },
    ...(typeof discover.instructions === 'string' ? { instructions: discover.instructions } : {}),
  };
}

const presented = new WeakMap<object, InitializeResult>();

export class ModernHttpUpstream implements Upstream {
  constructor(
    private readonly server: UpstreamServer,
    private readonly verdict: Extract<EraVerdict, { era: 'modern' }>,
    /** Who the requests are for (the identity header's value). */
    private readonly identity: string,
  ) {}

  get init(): InitializeResult {
    let init = presented.get(this.verdict);
    if (init === undefined) {
      init = presentedOf(this.verdict.discover, this.server.name);
      presented.set(this.verdict, init);
    }
    return init;
  }

  request(request: RpcRequest, sink: LinkSink, signal?: AbortSignal, options: RequestOptions = {}): void {
    const revision = (request.params?._meta as Record<string, unknown> | undefined)?.[
      'io.modelcontextprotocol/protocolVersion'
    ];
    sendModern(
      {
        pool: this.server.pool.http as HttpPool,
        server: this.server.name,
        headers: {
          ...this.server.pool.headersFor(this.identity),
          ...options.headers,
          ...standardHeaders(request, typeof revision === 'string' ? revision : undefined),
        },
        timeoutMs: options.longLived ? Number.POSITIVE_INFINITY : this.server.config.timeoutMs,
        onUnreachable: () => this.server.forget(),
      },
      request,
      sink,
      signal,
    );
  }

  call(
    method: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return modernCaller(this.server.pool, this.identity, this.server.config.timeoutMs)(
      method,
      params,
      signal,
    );
  }

  notify(): void {
    // The 2026 era defines no notifications from client to server over HTTP.
  }

  respond(): void {
    // Nor server-to-client requests: input comes back inside the retried request (MRTR).
  }

  listen(): void {}

  async close(): Promise<void> {}
}
