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

const isToolCall = (m: unknown): m is Rpc & { params: { name: string } } =>
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

export async function startMutantProxy(options: {
  /** The real gateway's Streamable HTTP endpoint for the upstream. */
  gatewayUrl: string;
  /** The upstream the gateway fronts, for the calls a mutant lets through itself. */
  upstreamUrl: string;
  mutant: Mutant;
  /** The window of the policy's limits, for the mutants that over-admit at some point in it. */
  windowMs: number;
}): Promise<MutantProxy> {
  const { mutant, windowMs } = options;
  const gateway = new URL(options.gatewayUrl);
  // Reached lazily: the upstream may start after the proxy (bastion test --upstream-command).
  const upstream = new UpstreamLink(options.upstreamUrl);
  const upstreamNames = async () => (await upstream.tools()).map((t) => t.name);
  let inFlight = 0;
  /** Windows in which the over-admitting mutant already let its one extra call through. */
  const overAdmitted = new Set<number>();
  /** Session id -> the upstream epoch it was opened in; the epoch moves when the upstream restarts. */
  const sessionEpochs = new Map<string, number>();
  let epoch = 0;

  const forward = (req: IncomingMessage, body: Buffer, extraHeaders: Record<string, string> = {}) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const headers = {
        ...req.headers,
        ...extraHeaders,
        host: gateway.host,
        'content-length': String(body.length),
      };
      delete headers.connection;
      delete headers['transfer-encoding'];
      const out = request(
        { host: gateway.hostname, port: gateway.port, method: req.method, path: req.url, headers },
        resolve,
      );
      out.on('error', reject);
      out.end(body);
    });

  /** Should this denial over a limit become an admission? One per window, at the mutant's moment. */
  const overAdmits = (arrivedAt: number, othersInFlight: number): boolean => {
    const start = Math.floor(arrivedAt / windowMs) * windowMs;
    const into = arrivedAt - start;
    const moment =
      (mutant === 'over-admit-early' && into < windowMs / 2) ||
      (mutant === 'over-admit-late' && into >= (windowMs * 3) / 4) ||
      (mutant === 'racing-admissions' && othersInFlight > 0);
    if (!moment || overAdmitted.has(start)) return false;
    overAdmitted.add(start);
    return true;
  };

  /** A batch decided on its first message: the rest share its fate. */
  const firstOnly = async (req: IncomingMessage, res: ServerResponse, batch: Rpc[]) => {
    const [first, ...rest] = batch;
    const answer = await Answer.read(await forward(req, Buffer.from(JSON.stringify(first))));
    const lead = answer.reply(first?.id);
    const admitted = lead?.result !== undefined && !isDenial(lead.result as CallToolResult);
    const replies: Rpc[] = lead === undefined ? [] : [lead];
    for (const m of rest) {
      if (!isToolCall(m)) continue;
      const id = m.id ?? null;
      if (admitted)
        replies.push({ jsonrpc: '2.0', id, result: await upstream.call(m.params.name, argsOf(m)) });
      else if (lead?.result !== undefined) replies.push({ jsonrpc: '2.0', id, result: lead.result });
      else if (lead?.error !== undefined) replies.push({ jsonrpc: '2.0', id, error: lead.error });
    }
    sendJson(res, 200, replies);
  };

  /** The policy decided on the header's tool; the body's call goes to the upstream. */
  const headerDecides = async (req: IncomingMessage, res: ServerResponse, call: Rpc, headerName: string) => {
    const probe = { ...call, params: { ...call.params, name: headerName } };
    const answer = await Answer.read(await forward(req, Buffer.from(JSON.stringify(probe))));
    const reply = answer.messages().find((m) => m.message.id === call.id);
    if (
      reply !== undefined &&
      reply.message.result !== undefined &&
      !isDenial(reply.message.result as CallToolResult)
    ) {
      const name = String(call.params?.name);
      reply.replace({ ...reply.message, result: await upstream.call(name, argsOf(call)) });
    }
    answer.send(res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const arrivedAt = Date.now();
    const sessionId = req.headers['mcp-session-id'];
    if (mutant === 'session-lost-on-restart' && typeof sessionId === 'string') {
      if (!(await upstream.alive())) epoch++;
      if ((sessionEpochs.get(sessionId) ?? epoch) < epoch) {
        sendJson(res, 404, {
          jsonrpc: '2.0',
          id: null,
          error: { code: -32001, message: 'Session not found' },
        });
        return;
      }
    }
    let body = req.method === 'POST' ? await readAll(req) : Buffer.alloc(0);
    const message = parse(body.toString('utf8')) as Rpc | Rpc[] | undefined;
    if (
      mutant === 'batch-first-only' &&
      Array.isArray(message) &&
      message.length > 1 &&
      isToolCall(message[0])
    ) {
      return firstOnly(req, res, message);
    }
    const call = isToolCall(message) ? message : undefined;
    const headerName = req.headers['mcp-name'];
    if (
      mutant === 'headers-over-body' &&
      call !== undefined &&
      typeof headerName === 'string' &&
      headerName !== call.params.name
    ) {
      return headerDecides(req, res, call, headerName);
    }
    const names = mutant === 'folded-names' && call !== undefined ? await upstreamNames() : [];
    if (call !== undefined && names.length > 0 && !names.includes(call.params.name)) {
      const real = names.find((n) => fold(n) === fold(call.params.name));
      if (real !== undefined)
        body = Buffer.from(JSON.stringify({ ...call, params: { ...call.params, name: real } }));
    }
    const othersInFlight = call === undefined ? 0 : inFlight++;
    try {
      const gatewayRes = await forward(req, body);
      const isListing = !Array.isArray(message) && message?.method === 'tools/list';
      if (call === undefined && !isListing) {
        res.writeHead(gatewayRes.statusCode ?? 502, gatewayRes.headers);
        gatewayRes.pipe(res);
        return;
      }
      const answer = await Answer.read(gatewayRes);
      const newSession = gatewayRes.headers['mcp-session-id'];
      if (typeof newSession === 'string' && !sessionEpochs.has(newSession))
        sessionEpochs.set(newSession, epoch);
      for (const { message: reply, replace } of answer.messages()) {
        const result = reply.result as CallToolResult | undefined;
        if (result === undefined) continue;
        if (isListing && mutant === 'hidden-listed') {
          const listed = (result as unknown as { tools: Array<{ name: string }> }).tools;
          const missing = (await upstream.tools()).filter((t) => !listed.some((l) => l.name === t.name));
          replace({ ...reply, result: { ...result, tools: [...listed, ...missing] } });
        }
        if (call === undefined || !isDenial(result)) continue;
        const overLimit = findRetryAfterMs(result.structuredContent) !== undefined;
        if (overLimit && overAdmits(arrivedAt, othersInFlight)) {
          replace({ ...reply, result: await upstream.call(call.params.name, argsOf(call)) });
        } else if (overLimit && mutant === 'no-retry-after') {
          replace({ ...reply, result: withoutRetryAfter(result) });
        }
      }
      answer.send(res);
    } finally {
      if (call !== undefined) inFlight--;
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent)
        sendJson(res, 502, { jsonrpc: '2.0', id: null, error: { code: -32603, message: err.message } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${gateway.pathname}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstream.close();
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
