/**
 * The legacy HTTP+SSE transport (2024-11-05) towards an upstream: `GET <url>` opens the session and
 * names, in an `endpoint` event, where to POST messages; every answer comes back on that one stream.
 * The session is the stream: when it ends, the connection is gone.
 */
import type { RpcMessage } from '../core/jsonrpc.js';
import { describe, type HttpPool, UpstreamNotDeliveredError } from './http-exchange.js';
import { type Pipe, type PipeEvents, UpstreamHttpError } from './pipe.js';

/** How long the upstream has to name its message endpoint. */
const ENDPOINT_WAIT_MS = 10_000;

export class SsePipe implements Pipe {
  readonly sessionId = undefined;
  private endpoint: URL | undefined;
  private readonly stream = new AbortController();
  private gone = false;

  constructor(
    private readonly pool: HttpPool,
    private readonly headers: Readonly<Record<string, string>>,
  ) {}

  start(events: PipeEvents): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stream.abort();
        reject(new UpstreamNotDeliveredError('the legacy SSE upstream named no message endpoint in time'));
      }, ENDPOINT_WAIT_MS);
      const closed = (reason: string) => {
        clearTimeout(timer);
        if (this.gone) return;
        this.gone = true;
        if (this.endpoint === undefined) reject(new UpstreamNotDeliveredError(reason));
        else events.onClosed(reason);
      };
      this.pool
        .exchange(
          {
            method: 'GET',
            headers: { ...this.headers, accept: 'text/event-stream' },
            signal: this.stream.signal,
          },
          {
            onNamedEvent: (name, data) => {
              if (name !== 'endpoint' || this.endpoint !== undefined) return;
              try {
                this.endpoint = new URL(data, this.pool.url);
              } catch {
                return closed(`the upstream named an invalid endpoint: ${data}`);
              }
              if (this.endpoint.origin !== this.pool.url.origin)
                return closed(`the upstream named an endpoint on another origin: ${this.endpoint.origin}`);
              clearTimeout(timer);
              resolve();
            },
            onMessage: (wire) => events.onMessage(wire, undefined),
            onEnd: (error) => closed(error?.message ?? 'the upstream ended the SSE stream'),
          },
        )
        .then(
          (head) => {
            if (head.status < 200 || head.status >= 300) {
              this.stream.abort();
              closed(`the upstream answered the SSE GET with HTTP ${head.status}`);
            }
          },
          (err: unknown) => closed(describe(err)),
        );
    });
  }

  async send(_message: RpcMessage, text: string): Promise<void> {
    const endpoint = this.endpoint;
    if (this.gone || endpoint === undefined) throw new UpstreamNotDeliveredError('the SSE session is closed');
    const head = await this.pool.exchange(
      { method: 'POST', url: endpoint, headers: { ...this.headers }, body: text },
      { onMessage: () => undefined, onEnd: () => undefined },
    );
    if (head.status === 404)
      throw new UpstreamNotDeliveredError('the upstream does not know the SSE session');
    if (head.status < 200 || head.status >= 300)
      throw new UpstreamHttpError(head.status, `the upstream answered HTTP ${head.status}`);
  }

  setProtocolVersion(): void {}

  listen(): void {}

  async close(): Promise<void> {
    this.gone = true;
    this.stream.abort();
  }
}
