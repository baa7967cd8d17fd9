/**
 * One HTTP exchange with an upstream MCP endpoint, on `node:http` with a keep-alive agent shared by
 * everything the gateway sends to that server (one pool per server, not a socket set per session).
 *
 * An exchange resolves once the response head is in; its messages follow to `onMessage`, each
 * parsed once and handed on with its original text. A JSON answer is one message (or a batch); an
 * event stream is read event by event (eventsource-parser, the SDK's own SSE parser) until it ends.
 *
 * Failures, and what they tell the caller:
 *   - an error before the response head: `UpstreamNotDeliveredError` (the message never reached a
 *     live server, or reached a process that had closed the connection), so it may be sent again;
 *   - a stream that breaks after its head: `onEnd(error)`; what was in flight may or may not have run.
 */
import http from 'node:http';
import https from 'node:https';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { kindOf, type RpcMessage, type Wire } from '../core/jsonrpc.js';

/** A request failed before any response arrived: the upstream did not take the message. */
export class UpstreamNotDeliveredError extends Error {
  override readonly name: string = 'UpstreamNotDeliveredError';
}

/** Bytes of an error body kept for messages. */
const ERROR_BODY_LIMIT = 4096;

export interface ExchangeHead {
  status: number;
  headers: http.IncomingHttpHeaders;
  contentType: string;
}

export interface ExchangeHandlers {
  /** The head, before any message (the promise resolves a tick later, after messages may have come). */
  onHead?(head: ExchangeHead): void;
  /** Each JSON-RPC message of the answer, in order. */
  onMessage(wire: Wire): void;
  /** The answer is complete (`error` set when its stream broke or held something that is not JSON-RPC). */
  onEnd(error?: Error): void;
  /** An event of another name than `message` (legacy SSE's `endpoint`). */
  onNamedEvent?(name: string, data: string): void;
}

export interface ExchangeRequest {
  method: 'POST' | 'GET' | 'DELETE';
  /** Another URL on the same server (a legacy SSE session's message endpoint); default the pool's. */
  url?: URL;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** The connection pool towards one upstream URL. */
export class HttpPool {
  readonly url: URL;
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;
  private readonly open = new Set<http.ClientRequest>();
  private closed = false;

  constructor(url: string | URL, options: { maxSockets?: number } = {}) {
    this.url = new URL(url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:')
      throw new Error(`an MCP Streamable HTTP URL must be http or https, not ${this.url.protocol}`);
    const secure = this.url.protocol === 'https:';
    const agentOptions: http.AgentOptions = {
      keepAlive: true,
      // LIFO keeps a few sockets warm instead of spreading calls over every idle one.
      scheduling: 'lifo',
      ...(options.maxSockets === undefined ? {} : { maxSockets: options.maxSockets }),
    };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.send = secure ? https.request : http.request;
  }

  /**
   * Sends one request; resolves with the head once it is in, or rejects with
   * UpstreamNotDeliveredError. A request that failed on a reused keep-alive socket before any answer
   * (the upstream had closed it meanwhile) is sent once more on a fresh one.
   */
  exchange(request: ExchangeRequest, handlers: ExchangeHandlers): Promise<ExchangeHead> {
    return this.attempt(request, handlers, true);
  }

  /** Open exchanges (long-lived streams included). */
  get openCount(): number {
    return this.open.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const req of this.open) req.destroy();
    this.open.clear();
    this.agent.destroy();
  }

  private attempt(
    request: ExchangeRequest,
    handlers: ExchangeHandlers,
    retry: boolean,
  ): Promise<ExchangeHead> {
    if (this.closed) return Promise.reject(new UpstreamNotDeliveredError('the upstream pool is closed'));
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(request.body);
    }
    return new Promise<ExchangeHead>((resolve, reject) => {
      const url = request.url ?? this.url;
      const req = this.send(url, { method: request.method, headers, agent: this.agent });
      this.open.add(req);
      let answered = false;
      const abort = () => req.destroy(new Error('aborted by the gateway'));
      request.signal?.addEventListener('abort', abort, { once: true });
      const finish = () => {
        this.open.delete(req);
        request.signal?.removeEventListener('abort', abort);
      };
      req.on('response', (res) => {
        answered = true;
        const contentType = res.headers['content-type'] ?? '';
        const head = { status: res.statusCode ?? 0, headers: res.headers, contentType };
        handlers.onHead?.(head);
        resolve(head);
        readBody(res, contentType, handlers, finish);
      });
      req.on('error', (err) => {
        if (answered) return; // the response's own error handler reports it
        finish();
        const reused = (req as http.ClientRequest & { reusedSocket?: boolean }).reusedSocket === true;
        if (
          retry &&
          reused &&
          !request.signal?.aborted &&
          (err as NodeJS.ErrnoException).code === 'ECONNRESET'
        ) {
          this.attempt(request, handlers, false).then(resolve, reject);
          return;
        }
        reject(
          new UpstreamNotDeliveredError(`${request.method} ${url.href} failed: ${describe(err)}`, {
            cause: err,
          }),
        );
      });
      req.end(request.body);
    });
  }
}

function readBody(
  res: http.IncomingMessage,
  contentType: string,
  handlers: ExchangeHandlers,
  finish: () => void,
): void {
  let ended = false;
  const end = (error?: Error) => {
    if (ended) return;
    ended = true;
    finish();
    handlers.onEnd(error);
  };
  res.on('error', (err) => end(new Error(`the upstream stream broke: ${describe(err)}`)));
  res.on('close', () => {
    if (!res.complete) end(new Error('the upstream closed the stream'));
  });
  if (contentType.startsWith('text/event-stream')) {
    let bad: Error | undefined;
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (event.event !== undefined && event.event !== 'message') {
          handlers.onNamedEvent?.(event.event, event.data);
          return;
        }
        if (event.data === '') return; // a priming event: an id and no message
        const parsed = parseWire(event.data);
        const wire = parsed === undefined ? undefined : { ...parsed, sse: true };
        if (wire === undefined)
          bad ??= new Error(`the upstream sent an event that is not JSON-RPC: ${event.data.slice(0, 200)}`);
        else handlers.onMessage(wire);
      },
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => parser.feed(chunk));
    res.on('end', () => end(bad));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const isJson = contentType.startsWith('application/json');
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    // Only JSON bodies are read whole; anything else is kept to a few KiB for the error message.
    if (isJson || size <= ERROR_BODY_LIMIT) chunks.push(chunk);
  });
  res.on('end', () => {
    if (!isJson) return end();
    const text =
      chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return end();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return end(new Error(`the upstream answered with invalid JSON: ${text.slice(0, 200)}`));
    }
    if (Array.isArray(parsed)) {
      for (const item of parsed) {
        if (kindOf(item) !== undefined) handlers.onMessage({ msg: item as RpcMessage });
      }
      return end();
    }
    if (kindOf(parsed) === undefined)
      return end(
        new Error(`the upstream answered with something that is not JSON-RPC: ${text.slice(0, 200)}`),
      );
    handlers.onMessage({ msg: parsed as RpcMessage, text });
    end();
  });
}

/** A message parsed once; its text kept for pass-through. */
export function parseWire(text: string): Wire | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return kindOf(parsed) === undefined ? undefined : { msg: parsed as RpcMessage, text };
}

export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string } }).cause;
  const code = (err as NodeJS.ErrnoException).code ?? cause?.code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
