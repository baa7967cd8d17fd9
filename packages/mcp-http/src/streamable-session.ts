/**
 * The server side of one Streamable HTTP session, on `node:http`.
 *
 * Why not the SDK's `StreamableHTTPServerTransport`: it converts every request into a web `Request`
 * through `@hono/node-server` and answers with a web `ReadableStream`, and those layers were about
 * a fifth of the gateway's CPU per call (the SDK transport took 0.70–1.0 ms per call against
 * 0.45–0.58 ms for a minimal `node:http` one; packages/harness/BENCH.md). This class writes the
 * event stream to the `ServerResponse` directly and keeps the SDK's behaviour where a client can see
 * it: the same status codes and JSON-RPC error bodies, responses on the POST's event stream (closed
 * once every request of the POST is answered), messages tied to a request on that request's stream
 * and others on the session's one GET stream, 202 for a POST without requests, DELETE to end.
 *
 * Left out, because no Bastion server uses them: JSON-only answers (`enableJsonResponse`), an event
 * store for resuming streams, and stateless mode (the 2026-07-28 era is served by the SDK's
 * `createMcpHandler`, see modern.ts). Session lookup, Host/Origin checks, authentication
 * and body limits are the host's (host.ts), which hands each request here with its parsed body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  isInitializeRequest,
  type JSONRPCMessage,
  type MessageExtraInfo,
  parseJSONRPCMessage,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { isRequestMessage as isRequest, isResponseMessage as isResponse } from './messages.js';
import { sendRpcError } from './responses.js';

/** The SDK's limit on messages in one POST. */
const MAX_BATCH_SIZE = 100;

// initialize keeps the SDK's guard, which also checks its params (an initialize with bad params is
// not an initialization); the other type tests are structural (messages.ts).
const isInitialize = (m: JSONRPCMessage): boolean =>
  'method' in m && m.method === 'initialize' && isInitializeRequest(m);

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
} as const;

/** One POST's event stream: open until every request it carried is answered. */
interface ResponseStream {
  res: ServerResponse;
  unanswered: Set<RequestId>;
}

export class StreamableSessionTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private initialized = false;
  private closed = false;
  /** The stream each open request is answered on. */
  private readonly byRequest = new Map<RequestId, ResponseStream>();
  /** The GET stream, for messages not tied to a request. */
  private standalone: ServerResponse | undefined;
  /** Every event stream still open (POST streams and the GET stream), for the keep-alive. */
  private readonly open = new Set<ServerResponse>();
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    readonly sessionId: string,
    private readonly options: {
      /**
       * An SSE comment on every open stream this often, so proxies and idle timeouts do not cut a
       * stream while a long call runs (the SDK's default is 15 s). 0 turns it off.
       */
      keepAliveMs?: number;
    } = {},
  ) {}

  async start(): Promise<void> {}

  /**
   * Serves one HTTP request of this session: POST, GET or DELETE (the host answers other methods);
   * `body` is the parsed JSON of a POST.
   */
  async handleRequest(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    if (req.method === 'POST') return this.handlePost(req, res, body);
    if (req.method === 'GET') return this.handleGet(req, res);
    await this.close();
    res.writeHead(200).end();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    const answer = isResponse(message);
    const requestId = answer ? message.id : options?.relatedRequestId;
    if (requestId === undefined) {
      // Not tied to a request: the GET stream, or nowhere if the client has none open (as the SDK
      // does without an event store).
      if (this.standalone !== undefined) writeEvent(this.standalone, message);
      return;
    }
    const stream = this.byRequest.get(requestId);
    if (stream === undefined)
      throw new Error(`No connection established for request ID: ${String(requestId)}`);
    if (!answer) {
      writeEvent(stream.res, message);
      return;
    }
    stream.unanswered.delete(requestId);
    this.byRequest.delete(requestId);
    // The last answer and the end of the stream go out in one write.
    if (stream.unanswered.size === 0) stream.res.end(eventText(message));
    else writeEvent(stream.res, message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const res of this.open) res.end();
    this.open.clear();
    this.byRequest.clear();
    this.standalone = undefined;
    clearInterval(this.keepAlive);
    this.onclose?.();
  }

  private reject(res: ServerResponse, problem: Problem): void {
    this.onerror?.(new Error(problem.message));
    sendRpcError(res, problem.status, problem.code, problem.message);
  }

  /** The messages of a POST, or why it is refused (the SDK's checks, in the SDK's order). */
  private checkPost(
    req: IncomingMessage,
    body: unknown,
  ): { messages: JSONRPCMessage[]; initialize: boolean } | Problem {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream'))
      return problem(
        406,
        -32000,
        'Not Acceptable: Client must accept both application/json and text/event-stream',
      );
    if (!(req.headers['content-type'] ?? '').includes('application/json'))
      return problem(415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    if (Array.isArray(body) && body.length > MAX_BATCH_SIZE)
      return problem(400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
    const messages: JSONRPCMessage[] = [];
    for (const item of Array.isArray(body) ? body : [body]) {
      try {
        messages.push(parseJSONRPCMessage(item));
      } catch {
        return problem(400, -32700, 'Parse error: Invalid JSON-RPC message');
      }
    }
    if (this.closed) return problem(404, -32001, 'Session not found');
    if (messages.some(isInitialize)) {
      if (this.initialized) return problem(400, -32600, 'Invalid Request: Server already initialized');
      if (messages.length > 1)
        return problem(400, -32600, 'Invalid Request: Only one initialization request is allowed');
      return { messages, initialize: true };
    }
    if (!this.initialized) return problem(400, -32000, 'Bad Request: Server not initialized');
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      const supported = SUPPORTED_PROTOCOL_VERSIONS.join(', ');
      return problem(
        400,
        -32000,
        `Bad Request: Unsupported protocol version: ${version} (supported versions: ${supported})`,
      );
    }
    return { messages, initialize: false };
  }

  private handlePost(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const checked = this.checkPost(req, body);
    if ('status' in checked) {
      this.reject(res, checked);
      return;
    }
    const { messages } = checked;
    if (checked.initialize) this.initialized = true;
    const extra: MessageExtraInfo = {};
    const requests = messages.filter(isRequest);
    if (requests.length === 0) {
      res.writeHead(202).end();
      for (const message of messages) this.onmessage?.(message, extra);
      return;
    }
    const stream: ResponseStream = { res, unanswered: new Set() };
    for (const request of requests) {
      stream.unanswered.add(request.id);
      this.byRequest.set(request.id, stream);
    }
    this.openStream(res);
    // The client went away: its answers have nowhere to go (send() then says so).
    res.once('close', () => {
      for (const id of stream.unanswered) {
        if (this.byRequest.get(id) === stream) this.byRequest.delete(id);
      }
    });
    for (const message of messages) this.onmessage?.(message, extra);
  }

  /** Sends an event stream's headers at once, and keeps it alive until it closes. */
  private openStream(res: ServerResponse): void {
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    res.flushHeaders();
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    const every = this.options.keepAliveMs ?? 15_000;
    if (this.keepAlive === undefined && every > 0) {
      // One timer per session, not per stream: a call then costs no timer of its own.
      this.keepAlive = setInterval(() => {
        for (const stream of this.open) if (!stream.writableEnded) stream.write(': keepalive\n\n');
      }, every);
      this.keepAlive.unref();
    }
  }

  private handleGet(req: IncomingMessage, res: ServerResponse): void {
    let refused: Problem | undefined;
    if (!(req.headers.accept ?? '').includes('text/event-stream'))
      refused = problem(406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    else if (!this.initialized) refused = problem(400, -32000, 'Bad Request: Server not initialized');
    else if (this.standalone !== undefined)
      refused = problem(409, -32000, 'Conflict: Only one SSE stream is allowed per session');
    if (refused !== undefined) {
      this.reject(res, refused);
      return;
    }
    this.openStream(res);
    this.standalone = res;
    res.once('close', () => {
      if (this.standalone === res) this.standalone = undefined;
    });
  }
}

interface Problem {
  status: number;
  code: number;
  message: string;
}

function problem(status: number, code: number, message: string): Problem {
  return { status, code, message };
}

function eventText(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

function writeEvent(res: ServerResponse, message: JSONRPCMessage): void {
  if (!res.writableEnded) res.write(eventText(message));
}
