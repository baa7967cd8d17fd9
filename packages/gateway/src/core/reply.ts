/**
 * Where the gateway's answers to an agent go.
 *
 * - `HttpReply`: the answer to one POST. It stays a plain `application/json` answer, written with its
 *   head in one socket write, unless something related to the request (progress, a log line, a
 *   server-to-client request) has to go first; then it becomes an event stream, as the SDK's
 *   `responseMode: 'auto'` does. Both eras' clients accept either (Streamable HTTP: "the client MUST
 *   support both"). A batch (2025 era) is answered once every request in it is.
 * - `EventStream`: a long-lived event stream (a 2025-era GET stream, a 2026-era
 *   `subscriptions/listen` answer), kept alive by one shared timer for all streams.
 * - `ChannelPort`: an agent on a message channel (legacy SSE, stdio, in memory), where everything
 *   goes on the one channel.
 */
import type { ServerResponse } from 'node:http';
import type { Id, Wire } from './jsonrpc.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Streamable HTTP (2026-07-28) asks for it so reverse proxies do not buffer events.
  'x-accel-buffering': 'no',
} as const;

const eventOf = (text: string) => `event: message\ndata: ${text}\n\n`;

/** One timer keeps every open event stream alive (a comment line), instead of a timer per stream. */
class KeepAlive {
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly everyMs: number) {}

  add(res: ServerResponse): void {
    if (this.everyMs <= 0) return;
    this.streams.add(res);
    res.once('close', () => this.streams.delete(res));
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const stream of this.streams) if (!stream.writableEnded) stream.write(': keepalive\n\n');
        if (this.streams.size === 0) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
      }, this.everyMs);
      this.timer.unref();
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.streams.clear();
  }
}

export const keepAlive = new KeepAlive(15_000);

/** What every agent-facing answer offers the core. */
export interface Reply {
  /** A message related to the request, sent before its answer (the answer itself goes to `answer`). */
  related(wire: Wire): void;
  /** The answer to request `id` (a response message). */
  answer(id: Id, wire: Wire): void;
  /** Aborted when the agent cancels the request or goes away. */
  readonly signal: AbortSignal;
  /** Cancels the request from the agent's side (2025 era: `notifications/cancelled`). */
  cancel(id: Id, reason?: string): void;
}

export class HttpReply implements Reply {
  private streaming = false;
  private readonly pending: Set<Id>;
  /** Answers of a batch, kept until the last one (JSON mode). */
  private readonly answers: string[] = [];
  private readonly controller = new AbortController();

  constructor(
    private readonly res: ServerResponse,
    ids: ReadonlyArray<Id>,
    private readonly batch: boolean,
    private readonly headers: Readonly<Record<string, string>> = {},
    /** 2026 era: closing the response stream cancels the request (2025: it does not). */
    abortOnClose = true,
  ) {
    this.pending = new Set(ids);
    if (abortOnClose)
      res.once('close', () => {
        if (this.pending.size > 0) this.controller.abort(new Error('the agent closed the response stream'));
      });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get done(): boolean {
    return this.pending.size === 0;
  }

  related(wire: Wire): void {
    if (this.res.writableEnded || this.pending.size === 0) return;
    this.upgrade();
    this.res.write(eventOf(wireText(wire)));
  }

  answer(id: Id, wire: Wire): void {
    if (!this.pending.delete(id) || this.res.writableEnded) return;
    const text = wireText(wire);
    if (this.streaming) {
      if (this.pending.size === 0) this.res.end(eventOf(text));
      else this.res.write(eventOf(text));
      return;
    }
    if (!this.batch) {
      // The upstream's own framing: an answer that came as an event stream leaves as one (still in
      // one write, head and event together), so the agent sees what it would see without the gateway.
      if (wire.sse && wire.status === undefined) {
        this.res.writeHead(200, { ...SSE_HEADERS, ...this.headers });
        this.res.end(eventOf(text));
      } else writeJson(this.res, wire.status ?? 200, text, this.headers);
      return;
    }
    this.answers.push(text);
    if (this.pending.size === 0) writeJson(this.res, 200, `[${this.answers.join(',')}]`, this.headers);
  }

  cancel(id: Id, reason?: string): void {
    // 2025 era: a cancelled request gets no answer; the stream ends once nothing else is pending.
    if (!this.pending.delete(id)) return;
    if (this.pending.size === 0) {
      this.controller.abort(new Error(reason ?? 'cancelled by the agent'));
      if (!this.res.writableEnded) {
        if (this.streaming) this.res.end();
        else if (this.batch && this.answers.length > 0)
          writeJson(this.res, 200, `[${this.answers.join(',')}]`, this.headers);
        else this.res.writeHead(202).end();
      }
    }
  }

  private upgrade(): void {
    if (this.streaming) return;
    this.streaming = true;
    this.res.writeHead(200, { ...SSE_HEADERS, ...this.headers });
    keepAlive.add(this.res);
    // Answers of a batch written so far go out first, in order.
    for (const text of this.answers.splice(0)) this.res.write(eventOf(text));
  }
}

/** A long-lived event stream: a 2025-era GET stream or a 2026-era listen stream. */
export class EventStream {
  private readonly controller = new AbortController();

  constructor(
    private readonly res: ServerResponse,
    headers: Readonly<Record<string, string>> = {},
  ) {
    res.writeHead(200, { ...SSE_HEADERS, ...headers });
    res.flushHeaders();
    keepAlive.add(res);
    res.once('close', () => this.controller.abort(new Error('the agent closed the stream')));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get open(): boolean {
    return !this.res.writableEnded && !this.controller.signal.aborted;
  }

  send(wire: Wire): void {
    if (this.open) this.res.write(eventOf(wireText(wire)));
  }

  /** Ends the stream, with a last message when one is given (a listen stream's closing result). */
  end(wire?: Wire): void {
    if (this.res.writableEnded) return;
    if (wire === undefined) this.res.end();
    else this.res.end(eventOf(wireText(wire)));
  }
}

/** An agent on a message channel (the SDK's Transport shape: legacy SSE, stdio, in memory). */
export interface AgentChannel {
  // `object`, not RpcMessage: the SDKs' transports (typed with their own message types) fit as they are.
  send(message: object): Promise<void>;
}

/**
 * The reply to one request of a channel agent: everything goes on the channel. An answer that
 * follows related messages sent in the same tick waits one turn of the event loop: the SDKs' clients
 * handle a notification a microtask after they read it but an answer at once, so a progress note
 * that arrived in the same read as its answer would find its handler gone.
 */
export class ChannelReply implements Reply {
  private readonly controller = new AbortController();
  private answered = false;
  private relatedAt = -1;

  constructor(
    private readonly channel: AgentChannel,
    private readonly onError: (err: unknown) => void,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  related(wire: Wire): void {
    if (this.answered) return;
    this.relatedAt = currentTurn();
    this.channel.send(wire.msg).catch(this.onError);
  }

  answer(_id: Id, wire: Wire): void {
    if (this.answered) return;
    this.answered = true;
    if (this.relatedAt === currentTurn()) setImmediate(() => this.channel.send(wire.msg).catch(this.onError));
    else this.channel.send(wire.msg).catch(this.onError);
  }

  cancel(_id: Id, reason?: string): void {
    if (this.answered) return;
    this.answered = true;
    this.controller.abort(new Error(reason ?? 'cancelled by the agent'));
  }
}

/** The current turn of the event loop (for ChannelReply): a counter advanced after each turn it was read in. */
let turn = 0;
let advancing = false;
function currentTurn(): number {
  if (!advancing) {
    advancing = true;
    setImmediate(() => {
      turn++;
      advancing = false;
    });
  }
  return turn;
}

function wireText(wire: Wire): string {
  return wire.text ?? JSON.stringify(wire.msg);
}

/** A JSON answer with its head in the same socket write. */
export function writeJson(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
