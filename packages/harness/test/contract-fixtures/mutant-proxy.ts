/**
 * Deliberately broken gateways for the mutation tests (issue 14, item 16): each one a small HTTP
 * proxy in front of the real bastion-gateway that rewrites requests or answers to introduce exactly
 * one realistic fault, so that `bastion test --suite gateway` can be seen to fail every one. With
 * `none` it changes nothing: the control, which must pass every check.
 *
 * A mutant that admits what the gateway denied sends the call to the upstream itself (the upstream
 * link), as a gateway whose check went wrong would forward it. The faults work on Streamable HTTP
 * POSTs; everything else (GET streams, DELETE, legacy SSE) passes through untouched.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { findRetryAfterMs, isDenial } from '../../src/suites/gateway/agent.js';
import type { GatewayCheckKind } from '../../src/suites/gateway/checks.js';
import { UpstreamLink } from './upstream-link.js';

export const MUTANTS = {
  'over-admit-early': {
    fault: 'admits one call over the limit in the first half of a window',
    caughtBy: ['limit-burst', 'limit-window'],
  },
  'over-admit-late': {
    fault: 'admits one call over the limit in the last quarter of a window',
    caughtBy: ['limit-window'],
  },
  'racing-admissions': {
    fault: 'admits one call over the limit that arrived while another call was in flight',
    caughtBy: ['limit-burst'],
  },
  'hidden-listed': { fault: 'lists hidden tools (still denies them)', caughtBy: ['hidden'] },
  'folded-names': {
    fault: 'looks tool names up case-folded and NFKC-normalised, without zero-width characters or spaces',
    caughtBy: ['names'],
  },
  'batch-first-only': { fault: 'decides a JSON-RPC batch on its first message', caughtBy: ['batch'] },
  'session-lost-on-restart': {
    fault: 'drops every agent session when the upstream restarts (answers 404)',
    caughtBy: ['restart'],
  },
  'no-retry-after': { fault: 'leaves retryAfterMs out of limit denials', caughtBy: ['limit-retry'] },
  'headers-over-body': {
    fault: 'decides a call on its Mcp-Name header and forwards the body, which may call another tool',
    caughtBy: ['headers'],
  },
} as const satisfies Record<string, { fault: string; caughtBy: ReadonlyArray<GatewayCheckKind> }>;

export type Mutant = keyof typeof MUTANTS | 'none';

interface Rpc {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: { name?: unknown; arguments?: unknown };
  result?: unknown;
  error?: unknown;
}

/** An answer read whole: its JSON-RPC messages, each replaceable, and the bytes to send back. */
class Answer {
  private constructor(
    readonly status: number,
    readonly headers: IncomingMessage['headers'],
    private readonly sse: boolean,
    /** SSE: one entry per event; JSON: the whole body. */
    private readonly blocks: string[],
  ) {}

  static async read(res: IncomingMessage): Promise<Answer> {
    const text = (await readAll(res)).toString('utf8');
    const sse = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
    return new Answer(res.statusCode ?? 502, res.headers, sse, sse ? text.split('\n\n') : [text]);
  }

  /** Each JSON-RPC message with a way to put another in its place. */
  messages(): Array<{ message: Rpc; replace(next: Rpc): void }> {
    const found: Array<{ message: Rpc; replace(next: Rpc): void }> = [];
    for (const [i, block] of this.blocks.entries()) {
      if (this.sse) {
        const lines = block.split('\n');
        const at = lines.findIndex((l) => l.startsWith('data:'));
        const data = at < 0 ? undefined : parse(lines[at]?.slice(5).trim() ?? '');
        if (data === undefined || Array.isArray(data)) continue;
        found.push({
          message: data as Rpc,
          replace: (next) => {
            lines[at] = `data: ${JSON.stringify(next)}`;
            this.blocks[i] = lines.join('\n');
          },
        });
      } else {
        const data = parse(block);
        const list = Array.isArray(data) ? (data as Rpc[]) : data === undefined ? [] : [data as Rpc];
        for (const [j, message] of list.entries()) {
          found.push({
            message,
            replace: (next) => {
              list[j] = next;
              this.blocks[i] = JSON.stringify(Array.isArray(data) ? list : next);
            },
          });
        }
      }
    }
    return found;
  }

  reply(id: Rpc['id']): Rpc | undefined {
    return this.messages().find((m) => m.message.id === id)?.message;
  }

  send(res: ServerResponse): void {
    const body = this.sse ? this.blocks.join('\n\n') : (this.blocks[0] ?? '');
    const headers = { ...this.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    delete headers.connection;
    res.writeHead(this.status, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function parse(text: string): unknown {
  try {
    return text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

type ToolCall = Rpc & { params: { name: string } };

const isToolCall = (m: unknown): m is ToolCall =>
  typeof m === 'object' &&
  m !== null &&
  (m as Rpc).method === 'tools/call' &&
  typeof (m as Rpc).params?.name === 'string';

const argsOf = (m: Rpc) => (m.params?.arguments ?? {}) as Record<string, unknown>;

/** What a careless gateway does to a name before looking it up. */
const fold = (name: string) =>
  name
    .normalize('NFKC')
    .replace(/[\u200b-\u200d\ufeff]/g, '')
    .trim()
    .toLowerCase();

export interface MutantProxy {
  /** The gateway's endpoint, through the proxy (same path). */
  url: string;
  close(): Promise<void>;
}

/** One mutant's way with each request; `none` passes everything through as it is. */
class Mutation {
  private inFlight = 0;
  /** Windows in which the over-admitting mutant already let its one extra call through. */
  private readonly overAdmitted = new Set<number>();
  /** Session id -> the upstream epoch it was opened in; the epoch moves when the upstream restarts. */
  private readonly sessionEpochs = new Map<string, number>();
  private epoch = 0;

  constructor(
    private readonly mutant: Mutant,
    private readonly windowMs: number,
    private readonly gateway: URL,
    /** Reached lazily: the upstream may start after the proxy (bastion test --upstream-command). */
    readonly upstream: UpstreamLink,
  ) {}

  private forward(req: IncomingMessage, body: Buffer): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: this.gateway.host, 'content-length': String(body.length) };
      delete headers.connection;
      delete headers['transfer-encoding'];
      const out = request(
        { host: this.gateway.hostname, port: this.gateway.port, method: req.method, path: req.url, headers },
        resolve,
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  /** Should this denial over a limit become an admission? One per window, at the mutant's moment. */
  private overAdmits(arrivedAt: number, othersInFlight: number): boolean {
    const start = Math.floor(arrivedAt / this.windowMs) * this.windowMs;
    const into = arrivedAt - start;
    const moment =
      (this.mutant === 'over-admit-early' && into < this.windowMs / 2) ||
      (this.mutant === 'over-admit-late' && into >= (this.windowMs * 3) / 4) ||
      (this.mutant === 'racing-admissions' && othersInFlight > 0);
    if (!moment || this.overAdmitted.has(start)) return false;
    this.overAdmitted.add(start);
    return true;
  }

  /** A batch decided on its first message: the rest share its fate. */
  private async firstOnly(req: IncomingMessage, res: ServerResponse, batch: Rpc[]): Promise<void> {
    const [first, ...rest] = batch;
    const answer = await Answer.read(await this.forward(req, Buffer.from(JSON.stringify(first))));
    const lead = answer.reply(first?.id);
    const admitted = lead?.result !== undefined && !isDenial(lead.result as CallToolResult);
    const replies: Rpc[] = lead === undefined ? [] : [lead];
    for (const m of rest) {
      if (!isToolCall(m)) continue;
      const id = m.id ?? null;
      if (admitted) {
        replies.push({ jsonrpc: '2.0', id, result: await this.upstream.call(m.params.name, argsOf(m)) });
      } else if (lead?.result !== undefined) replies.push({ jsonrpc: '2.0', id, result: lead.result });
      else if (lead?.error !== undefined) replies.push({ jsonrpc: '2.0', id, error: lead.error });
    }
    sendJson(res, 200, replies);
  }

  /** The policy decided on the header's tool; the body's call goes to the upstream. */
  private async headerDecides(req: IncomingMessage, res: ServerResponse, call: ToolCall, header: string) {
    const probe = { ...call, params: { ...call.params, name: header } };
    const answer = await Answer.read(await this.forward(req, Buffer.from(JSON.stringify(probe))));
    const reply = answer.messages().find((m) => m.message.id === call.id);
    const result = reply?.message.result as CallToolResult | undefined;
    if (reply !== undefined && result !== undefined && !isDenial(result)) {
      reply.replace({ ...reply.message, result: await this.upstream.call(call.params.name, argsOf(call)) });
    }
    answer.send(res);
  }

  /** For the session-losing mutant: answers 404 to a session opened before the upstream restarted. */
  private async lostSession(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const sessionId = req.headers['mcp-session-id'];
    if (this.mutant !== 'session-lost-on-restart' || typeof sessionId !== 'string') return false;
    if (!(await this.upstream.alive())) this.epoch++;
    if ((this.sessionEpochs.get(sessionId) ?? this.epoch) >= this.epoch) return false;
    sendJson(res, 404, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } });
    return true;
  }

  /** The request's body as the mutant passes it on: a look-alike name folded to the real one. */
  private async rewriteRequest(body: Buffer, call: ToolCall | undefined): Promise<Buffer> {
    if (this.mutant !== 'folded-names' || call === undefined) return body;
    const names = (await this.upstream.tools()).map((t) => t.name);
    const real = names.find((n) => fold(n) === fold(call.params.name));
    if (real === undefined || real === call.params.name) return body;
    return Buffer.from(JSON.stringify({ ...call, params: { ...call.params, name: real } }));
  }

  /** The gateway's answer to a tools/call (or, without one, a tools/list) as the mutant passes it on. */
  private async rewriteAnswer(
    answer: Answer,
    call: ToolCall | undefined,
    arrivedAt: number,
    othersInFlight: number,
  ) {
    for (const { message: reply, replace } of answer.messages()) {
      const result = reply.result as CallToolResult | undefined;
      if (result === undefined) continue;
      if (call === undefined && this.mutant === 'hidden-listed') {
        const listed = (result as unknown as { tools: Array<{ name: string }> }).tools;
        const missing = (await this.upstream.tools()).filter((t) => !listed.some((l) => l.name === t.name));
        replace({ ...reply, result: { ...result, tools: [...listed, ...missing] } });
      }
      if (call === undefined || !isDenial(result)) continue;
      // A limit denial carries retryAfterMs: in _meta["dev.bastion/error"] by the workspace's error-result
      // convention (the forwarding core), in structuredContent for a gateway from before it.
      const overLimit =
        (findRetryAfterMs(result._meta) ?? findRetryAfterMs(result.structuredContent)) !== undefined;
      if (overLimit && this.overAdmits(arrivedAt, othersInFlight)) {
        replace({ ...reply, result: await this.upstream.call(call.params.name, argsOf(call)) });
      } else if (overLimit && this.mutant === 'no-retry-after') {
        replace({ ...reply, result: withoutRetryAfter(result) });
      }
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = Date.now();
    if (await this.lostSession(req, res)) return;
    const raw = req.method === 'POST' ? await readAll(req) : Buffer.alloc(0);
    const message = parse(raw.toString('utf8')) as Rpc | Rpc[] | undefined;
    if (this.mutant === 'batch-first-only' && Array.isArray(message) && message.length > 1) {
      if (isToolCall(message[0])) return this.firstOnly(req, res, message);
    }
    const call = isToolCall(message) ? message : undefined;
    const header = req.headers['mcp-name'];
    if (this.mutant === 'headers-over-body' && call !== undefined && typeof header === 'string') {
      if (header !== call.params.name) return this.headerDecides(req, res, call, header);
    }
    const body = await this.rewriteRequest(raw, call);
    const othersInFlight = call === undefined ? 0 : this.inFlight++;
    try {
      const gatewayRes = await this.forward(req, body);
      const newSession = gatewayRes.headers['mcp-session-id'];
      if (typeof newSession === 'string' && !this.sessionEpochs.has(newSession)) {
        this.sessionEpochs.set(newSession, this.epoch);
      }
      const isListing = !Array.isArray(message) && message?.method === 'tools/list';
      if (call === undefined && !isListing) {
        res.writeHead(gatewayRes.statusCode ?? 502, gatewayRes.headers);
        gatewayRes.pipe(res);
        return;
      }
      const answer = await Answer.read(gatewayRes);
      await this.rewriteAnswer(answer, call, arrivedAt, othersInFlight);
      answer.send(res);
    } finally {
      if (call !== undefined) this.inFlight--;
    }
  }
}

export async function startMutantProxy(options: {
  /** The real gateway's Streamable HTTP endpoint for the upstream. */
  gatewayUrl: string;
  /** The upstream the gateway fronts, for the calls a mutant lets through itself. */
  upstreamUrl: string;
  mutant: Mutant;
  /** The window of the policy's limits, for the mutants that over-admit at some point in it. */
  windowMs: number;
}): Promise<MutantProxy> {
  const gateway = new URL(options.gatewayUrl);
  const mutation = new Mutation(
    options.mutant,
    options.windowMs,
    gateway,
    new UpstreamLink(options.upstreamUrl),
  );
  const server = createServer((req, res) => {
    mutation.handle(req, res).catch((err: Error) => {
      if (!res.headersSent) {
        sendJson(res, 502, { jsonrpc: '2.0', id: null, error: { code: -32603, message: err.message } });
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${gateway.pathname}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await mutation.upstream.close();
    },
  };
}

/** The denial without retryAfterMs, wherever it was. */
function withoutRetryAfter(result: CallToolResult): CallToolResult {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== 'retryAfterMs')
        .map(([key, v]) => [key, strip(v)]),
    );
  };
  return strip(result) as CallToolResult;
}
