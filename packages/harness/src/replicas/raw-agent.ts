/**
 * A load-capable MCP agent for the replicas scenarios: plain JSON-RPC over keep-alive HTTP, no SDK
 * client per call, so 1,000 parallel calls cost the test process little and every call can be sent
 * to the replica the scenario chooses. Speaks both eras:
 *   - 2026-07-28: one stateless POST per call, with the `_meta` envelope and the headers it mirrors;
 *   - 2025-11-25: `initialize` opens a session on one replica; its calls may then go to any replica
 *     with the `Mcp-Session-Id` header (the point of the session records in Redis).
 * Answers are read whether the gateway sends them as JSON or as an event stream.
 */
import { Agent, request as httpRequest } from 'node:http';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';

export const MODERN = '2026-07-28';
export const LEGACY = '2025-11-25';
const ERROR_META_KEY = 'dev.bastion/error';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON-RPC message answering the request (undefined for a 202 or a non-JSON body). */
  message: Record<string, unknown> | undefined;
  text: string;
}

/** How one tools/call ended, as the agent sees it. */
export interface CallOutcome {
  kind: 'admitted' | 'denied' | 'error';
  /** `_meta["dev.bastion/error"].code` of a gateway error result, or the JSON-RPC error code. */
  code?: string;
  retryAfterMs?: number;
  /** The tool result (admitted or denied), or the JSON-RPC error message. */
  result?: Record<string, unknown>;
  status: number;
}

export interface RawAgentOptions {
  /** Base URLs of the replicas (or of the one load balancer), e.g. http://127.0.0.1:4200. */
  bases: ReadonlyArray<string>;
  server: string;
  token?: string;
  /** Sockets per replica (default 256). */
  maxSockets?: number;
}

let nextId = 0;

export class RawMcpAgent {
  private readonly agent: Agent;
  private turn = 0;

  constructor(readonly options: RawAgentOptions) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 });
  }

  /** The replica for the next request: `via` if given, else round robin. */
  base(via?: number): string {
    const { bases } = this.options;
    const index = via ?? this.turn++;
    return bases[index % bases.length] as string;
  }

  /** A 2026-era tools/call (stateless: any replica can answer it). */
  async modernCall(
    tool: string,
    args: Record<string, unknown> = {},
    options: { via?: number; headers?: Record<string, string>; meta?: Record<string, unknown> } = {},
  ): Promise<CallOutcome> {
    const body = {
      jsonrpc: '2.0',
      id: ++nextId,
      method: 'tools/call',
      params: {
        name: tool,
        arguments: args,
        _meta: {
          [PROTOCOL_VERSION_META_KEY]: MODERN,
          [CLIENT_CAPABILITIES_META_KEY]: {},
          [CLIENT_INFO_META_KEY]: { name: 'bastion-replicas-agent', version: '1.0.0' },
          ...options.meta,
        },
      },
    };
    const answer = await this.post(this.base(options.via), body, {
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': tool,
      ...options.headers,
    });
    return outcomeOf(answer);
  }

  /** A 2025-era session, opened with `initialize` on replica `via` (round robin if not given). */
  async openSession(via?: number): Promise<LegacySession> {
    const base = this.base(via);
    const init = await this.post(base, {
      jsonrpc: '2.0',
      id: ++nextId,
      method: 'initialize',
      params: {
        protocolVersion: LEGACY,
        capabilities: {},
        clientInfo: { name: 'bastion-replicas-agent', version: '1.0.0' },
      },
    });
    const id = init.headers['mcp-session-id'];
    if (init.status !== 200 || typeof id !== 'string')
      throw new Error(`initialize answered ${init.status}: ${init.text.slice(0, 300)}`);
    const session = new LegacySession(this, id);
    await session.notify('notifications/initialized');
    return session;
  }

  /** One POST to `<base>/servers/<server>/mcp`. */
  post(base: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const url = new URL(`/servers/${this.options.server}/mcp`, base);
    const payload = JSON.stringify(body);
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': Buffer.byteLength(payload),
            ...(this.options.token === undefined ? {} : { authorization: `Bearer ${this.options.token}` }),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const id = (body as { id?: unknown }).id;
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              message: messageOf(text, id),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export class LegacySession {
  constructor(
    private readonly agent: RawMcpAgent,
    readonly id: string,
  ) {}

  async call(tool: string, args: Record<string, unknown> = {}, via?: number): Promise<CallOutcome> {
    const answer = await this.agent.post(
      this.agent.base(via),
      { jsonrpc: '2.0', id: ++nextId, method: 'tools/call', params: { name: tool, arguments: args } },
      this.headers(),
    );
    return outcomeOf(answer);
  }

  async notify(method: string, via?: number): Promise<number> {
    const answer = await this.agent.post(this.agent.base(via), { jsonrpc: '2.0', method }, this.headers());
    return answer.status;
  }

  /** DELETE: ends the session. */
  async end(via?: number): Promise<number> {
    const url = new URL(`/servers/${this.agent.options.server}/mcp`, this.agent.base(via));
    const token = this.agent.options.token;
    const res = await fetch(url, {
      method: 'DELETE',
      headers: { ...this.headers(), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    });
    await res.arrayBuffer();
    return res.status;
  }

  private headers(): Record<string, string> {
    return { 'mcp-session-id': this.id, 'mcp-protocol-version': LEGACY };
  }
}

/** The answer to request `id` in a JSON body or an event stream. */
function messageOf(text: string, id: unknown): Record<string, unknown> | undefined {
  const candidates: string[] = [];
  if (text.trimStart().startsWith('{')) candidates.push(text);
  else
    for (const line of text.split('\n')) if (line.startsWith('data:')) candidates.push(line.slice(5).trim());
  for (const candidate of candidates) {
    try {
      const message = JSON.parse(candidate) as Record<string, unknown>;
      if (message.id === id && ('result' in message || 'error' in message)) return message;
    } catch {
      // Not JSON: keep looking.
    }
  }
  return undefined;
}

export function outcomeOf(answer: HttpAnswer): CallOutcome {
  const message = answer.message;
  if (message === undefined) return { kind: 'error', code: `HTTP ${answer.status}`, status: answer.status };
  const error = message.error as { code?: number; message?: string } | undefined;
  if (error !== undefined)
    return {
      kind: 'error',
      code: String(error.code),
      result: error as Record<string, unknown>,
      status: answer.status,
    };
  const result = message.result as Record<string, unknown>;
  const details = (result._meta as Record<string, unknown> | undefined)?.[ERROR_META_KEY] as
    | { code?: string; retryAfterMs?: number }
    | undefined;
  if (details?.code === undefined) return { kind: 'admitted', result, status: answer.status };
  const denied = details.code === 'POLICY_DENIED' || details.code === 'COUNTERS_UNAVAILABLE';
  return {
    kind: denied ? 'denied' : 'error',
    code: details.code,
    ...(details.retryAfterMs === undefined ? {} : { retryAfterMs: details.retryAfterMs }),
    result,
    status: answer.status,
  };
}

/** Counts of outcomes by kind and code, for the scenario reports. */
export function tally(outcomes: ReadonlyArray<CallOutcome>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.code === undefined ? o.kind : `${o.kind}:${o.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
