/**
 * The client side of MCP's Streamable HTTP transport, on `node:http`, for the gateway's upstreams.
 *
 * Why not the SDK's `StreamableHTTPClientTransport`: the gateway makes one upstream call per agent
 * call, and the SDK transport, built on `fetch` and web streams (a `TextDecoderStream` and an
 * `EventSourceParserStream` per response), was the largest part of the gateway's cost: 1.3–2.8 ms of
 * CPU per call against 0.46–0.61 ms for the same `Client` over plain `node:http` (packages/harness
 * BENCH.md, "Where the gateway's time goes"). This transport keeps the protocol and drops the layers:
 * the SSE framing is still parsed by a library (eventsource-parser, the one the SDK uses) and every
 * message is still checked against the SDK's JSON-RPC schema.
 *
 * What it does, as the SDK's transport does: POSTs each message with the session id and protocol
 * version headers, reads a JSON or an event-stream answer, opens the GET stream for server-initiated
 * messages once the session is initialized (a 405 means the server has none), resumes a stream that
 * ended early with `Last-Event-ID` when the server gave event ids, and ends the session with DELETE.
 * What it leaves out: OAuth (the gateway sends the configured headers) and redirects.
 *
 * How failures look to the link (upstream/link.ts): an error before the response headers is an
 * `UpstreamNotDeliveredError` (the message never reached the server, or reached a process that had
 * closed the connection); a 404 is a `StreamableHTTPError` with code 404 (the server forgot the
 * session); a stream that breaks is reported to `onerror`; a response stream that ends without the
 * answer to its request is reported to `hooks.onStreamEndedUnanswered`, so the link can check that
 * the upstream is still there.
 */
import http from 'node:http';
import https from 'node:https';
import { isInitializedMessage, isRequestMessage, isResponseMessage } from '@bastion/mcp-http';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type JSONRPCMessage, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface ResponseStreamHooks {
  /**
   * A POST carrying request `id` got an event stream back, and that stream ended before the answer
   * to `id` came on it. Streamable HTTP gives no error when an upstream shuts down cleanly with a
   * call in flight (the stream just ends, without the answer), so the link then checks that the
   * upstream is still there. Called once per request, for the first stream only: the stream is still
   * resumed (when it can be) as usual, and a resumed part that ends again is not reported.
   */
  onStreamEndedUnanswered(id: string | number): void;
}

export interface NodeHttpClientTransportOptions {
  /** Sent with every request (after the protocol's own headers, which they cannot replace). */
  headers?: Record<string, string>;
  hooks?: ResponseStreamHooks;
  /** How often a stream that ended early (or the GET stream) is reopened before giving up. Default 2. */
  maxReconnects?: number;
  /** First wait before reopening a stream, unless the server sent `retry:`. Default 1000 ms. */
  reconnectDelayMs?: number;
}

/** A request failed before any response arrived: the upstream did not take the message. */
export class UpstreamNotDeliveredError extends Error {
  override name = 'UpstreamNotDeliveredError';
}

/** Bytes of an error response body kept for the error message. */
const ERROR_BODY_LIMIT = 2048;

export class NodeHttpClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private sessionIdValue: string | undefined;
  private protocolVersion: string | undefined;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  /** Every request and response still open, destroyed by close(). */
  private readonly open = new Set<http.ClientRequest>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly url: URL,
    private readonly options: NodeHttpClientTransportOptions = {},
  ) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`an MCP Streamable HTTP URL must be http or https, not ${url.protocol}`);
    const secure = url.protocol === 'https:';
    // One agent per transport (= per upstream session), so close() can end every socket it opened.
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.request = secure ? https.request : http.request;
  }

  get sessionId(): string | undefined {
    return this.sessionIdValue;
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('the transport is closed');
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error('Not connected');
    const body = JSON.stringify(message);
    const res = await this.exchange('POST', body, { accept: 'application/json, text/event-stream' });
    const sessionId = res.headers['mcp-session-id'];
    if (typeof sessionId === 'string' && sessionId !== '') this.sessionIdValue = sessionId;
    if (res.statusCode === 202) {
      res.resume();
      if (isInitializedMessage(message)) this.openGetStream(undefined, 0);
      return;
    }
    if (!isSuccess(res.statusCode)) {
      const text = await readText(res, ERROR_BODY_LIMIT);
      throw new StreamableHTTPError(res.statusCode ?? -1, `Error POSTing to endpoint: ${text}`);
    }
    if (isInitializedMessage(message)) this.openGetStream(undefined, 0);
    const type = res.headers['content-type'] ?? '';
    const requestId = isRequestMessage(message) ? message.id : undefined;
    if (type.startsWith('text/event-stream')) {
      // Resolves once the headers are in; the answer follows on the stream (as with the SDK).
      this.readEventStream(res, { requestId, attempt: 0 });
      return;
    }
    if (type.startsWith('application/json')) {
      const text = await readText(res);
      if (text.trim() === '') return; // some servers answer a notification with 200 and no body
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`the upstream answered with invalid JSON: ${text.slice(0, 200)}`);
      }
      for (const item of [parsed].flat()) this.deliver(item);
      return;
    }
    res.resume();
    if (requestId !== undefined)
      throw new StreamableHTTPError(-1, `Unexpected content type: ${type || '(none)'}`);
  }

  /** Ends the session upstream (DELETE); a server that does not allow it answers 405, which is fine. */
  async terminateSession(): Promise<void> {
    if (this.sessionIdValue === undefined || this.closed) return;
    const res = await this.exchange('DELETE', undefined, {});
    res.resume();
    if (!isSuccess(res.statusCode) && res.statusCode !== 405)
      throw new StreamableHTTPError(res.statusCode ?? -1, 'Failed to terminate session');
    this.sessionIdValue = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const req of this.open) req.destroy();
    this.open.clear();
    this.agent.destroy();
    this.onclose?.();
  }

  /** One HTTP exchange; resolves with the response once its headers are in. */
  private exchange(
    method: 'POST' | 'GET' | 'DELETE',
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<http.IncomingMessage> {
    const all: Record<string, string> = { ...this.options.headers, ...headers };
    if (this.sessionIdValue !== undefined) all['mcp-session-id'] = this.sessionIdValue;
    if (this.protocolVersion !== undefined) all['mcp-protocol-version'] = this.protocolVersion;
    if (body !== undefined) {
      all['content-type'] = 'application/json';
      all['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = this.request(this.url, { method, headers: all, agent: this.agent });
      this.open.add(req);
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        res.on('close', () => this.open.delete(req));
        resolve(res);
      });
      req.on('error', (err) => {
        this.open.delete(req);
        if (!answered)
          reject(
            new UpstreamNotDeliveredError(`${method} ${this.url.href} failed: ${err.message}`, {
              cause: err,
            }),
          );
      });
      req.end(body);
    });
  }

  /**
   * Reads an event stream to its end, delivering each message. A stream that ends before the answer
   * to `requestId` came (or the GET stream, which has no answer to wait for) is reopened with
   * `Last-Event-ID` when the server gave event ids, at most `maxReconnects` times in a row.
   */
  private readEventStream(
    res: http.IncomingMessage,
    stream: { requestId: string | number | undefined; attempt: number; lastEventId?: string },
  ): void {
    let lastEventId = stream.lastEventId;
    let retryMs: number | undefined;
    let answered = false;
    let delivered = false;
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (event.id !== undefined && event.id !== '') lastEventId = event.id;
        if (event.event !== undefined && event.event !== 'message') return;
        if (event.data === '') return; // a priming event: an id (and maybe a retry) and no message
        const message = this.deliver(JSON.parse(event.data) as unknown);
        delivered = true;
        if (
          message !== undefined &&
          stream.requestId !== undefined &&
          isResponseMessage(message) &&
          message.id === stream.requestId
        )
          answered = true;
      },
      onRetry: (ms) => {
        retryMs = ms;
      },
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      try {
        parser.feed(chunk);
      } catch (err) {
        this.onerror?.(err instanceof Error ? err : new Error(String(err)));
      }
    });
    res.on('error', (err) => {
      if (!this.closed) this.onerror?.(new Error(`SSE stream disconnected: ${err.message}`));
    });
    res.on('end', () => {
      if (this.closed) return;
      if (answered) return;
      // Every message of the stream was parsed (and `answered` set) in 'data', before 'end'.
      const isGetStream = stream.requestId === undefined;
      if (!isGetStream && stream.attempt === 0)
        this.options.hooks?.onStreamEndedUnanswered(stream.requestId!);
      const canResume = lastEventId !== undefined || isGetStream;
      const attempt = delivered ? 0 : stream.attempt;
      if (!canResume || attempt >= (this.options.maxReconnects ?? 2)) return;
      const delay = retryMs ?? (this.options.reconnectDelayMs ?? 1000) * 1.5 ** attempt;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.openGetStream(lastEventId, attempt + 1, stream.requestId);
      }, delay);
      this.timers.add(timer);
    });
  }

  /**
   * Opens (or reopens, with `Last-Event-ID`) the GET stream. A reopened response stream keeps waiting
   * for the answer to `requestId`.
   */
  private openGetStream(lastEventId: string | undefined, attempt: number, requestId?: string | number): void {
    if (this.closed) return;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    this.exchange('GET', undefined, headers).then(
      (res) => {
        if (res.statusCode === 405) {
          res.resume(); // the server offers no GET stream
          return;
        }
        if (
          !isSuccess(res.statusCode) ||
          !(res.headers['content-type'] ?? '').startsWith('text/event-stream')
        ) {
          res.resume();
          this.onerror?.(new StreamableHTTPError(res.statusCode ?? -1, 'Failed to open SSE stream'));
          return;
        }
        this.readEventStream(res, {
          requestId,
          attempt,
          ...(lastEventId === undefined ? {} : { lastEventId }),
        });
      },
      (err: unknown) => {
        if (!this.closed) this.onerror?.(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** Checks one incoming message against the JSON-RPC schema and hands it on. */
  private deliver(value: unknown): JSONRPCMessage | undefined {
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      this.onerror?.(new Error(`the upstream sent a message that is not JSON-RPC: ${parsed.error.message}`));
      return undefined;
    }
    this.onmessage?.(parsed.data);
    return parsed.data;
  }
}

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/** A response body as text, cut at `limit` bytes when given (error bodies). */
function readText(res: http.IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size < limit) chunks.push(chunk);
      size += chunk.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').slice(0, limit)));
    res.on('error', reject);
  });
}
