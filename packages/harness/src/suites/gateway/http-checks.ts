/**
 * The checks that send what an SDK client would not, over raw HTTP: a JSON-RPC batch that leads
 * with an allowed call and carries denied ones behind it, and a call whose `Mcp-Method`/`Mcp-Name`
 * headers name an allowed tool while its body calls a denied one (SEP-2243's headers; the policy
 * must read the body, issue 10). Both apply to Streamable HTTP only.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type GatewayEndpoint, isDenial } from './agent.js';
import {
  admittableTools,
  argsFor,
  check,
  deniedTools,
  fail,
  type GatewayCheck,
  type GatewayCheckContext,
  skip,
} from './check-kit.js';
import { applicableLimits, remainingFor } from './quota.js';

type Message = { id?: unknown; result?: unknown; error?: { message?: string } };

export interface RawAnswer {
  status: number;
  messages: Message[];
}

/** The JSON-RPC messages of a POST's answer, framed as JSON or as an SSE stream. */
async function readAnswer(res: Response): Promise<RawAnswer> {
  const text = await res.text();
  let messages: Message[] = [];
  try {
    if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      messages = text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Message);
    } else if (text.trim() !== '') {
      messages = [JSON.parse(text) as Message | Message[]].flat();
    }
  } catch {
    // Not JSON-RPC at all (an HTML error page, say): no messages, the status tells.
  }
  return { status: res.status, messages };
}

function baseHeaders(endpoint: GatewayEndpoint): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(endpoint.token === undefined ? {} : { authorization: `Bearer ${endpoint.token}` }),
  };
}

export interface RawSession {
  /** The protocol version the gateway answered initialize with. */
  protocolVersion: string;
  post(body: unknown, extraHeaders?: Record<string, string>): Promise<RawAnswer>;
  /** Posts text as it is (not necessarily JSON), in the session. */
  postRaw(text: string, extraHeaders?: Record<string, string>): Promise<RawAnswer>;
  close(): Promise<void>;
}

/** One raw Streamable HTTP session (initialize, initialized), asking for `protocolVersion`. */
export async function openRawSession(
  endpoint: GatewayEndpoint,
  protocolVersion: string,
): Promise<RawSession> {
  const base = baseHeaders(endpoint);
  const init = await fetch(endpoint.url, {
    method: 'POST',
    headers: base,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion,
        capabilities: {},
        clientInfo: { name: 'bastion-gateway-checks', version: '1' },
      },
    }),
  });
  const answer = await readAnswer(init);
  if (!init.ok) throw new Error(`initialize answered HTTP ${init.status}`);
  const negotiated = (answer.messages[0]?.result as { protocolVersion?: unknown } | undefined)
    ?.protocolVersion;
  const version = typeof negotiated === 'string' ? negotiated : protocolVersion;
  const sessionId = init.headers.get('mcp-session-id');
  const headers = {
    ...base,
    ...(sessionId === null ? {} : { 'mcp-session-id': sessionId }),
    'mcp-protocol-version': version,
  };
  const postRaw = async (text: string, extraHeaders: Record<string, string> = {}) =>
    readAnswer(
      await fetch(endpoint.url, { method: 'POST', headers: { ...headers, ...extraHeaders }, body: text }),
    );
  const post = (body: unknown, extraHeaders: Record<string, string> = {}) =>
    postRaw(JSON.stringify(body), extraHeaders);
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return {
    protocolVersion: version,
    post,
    postRaw,
    async close() {
      if (sessionId !== null) {
        await fetch(endpoint.url, { method: 'DELETE', headers }).catch(() => undefined);
      }
    },
  };
}

function isLegacySse(ctx: GatewayCheckContext): boolean {
  return ctx.endpoint.transport === 'sse' || new URL(ctx.endpoint.url).pathname.endsWith('/sse');
}

/** An allowed tool with quota for `calls` more calls in its windows, or undefined. */
async function allowedWithQuota(ctx: GatewayCheckContext, calls: number): Promise<string | undefined> {
  const now = Date.now();
  const candidates = await admittableTools(ctx);
  return (
    candidates.find((n) => applicableLimits(ctx.policy, n).length === 0) ??
    candidates.find((n) => remainingFor(ctx, applicableLimits(ctx.policy, n), now) >= calls)
  );
}

/** What became of one call sent raw: refused (status or JSON-RPC error), denied, or admitted. */
function verdictOf(answer: RawAnswer, id: number): 'refused' | 'denied' | 'admitted' | 'unanswered' {
  if (answer.status >= 400) return 'refused';
  const reply = answer.messages.find((m) => m.id === id);
  if (reply === undefined) return 'unanswered';
  if (reply.error !== undefined) return 'refused';
  return isDenial(reply.result as CallToolResult) ? 'denied' : 'admitted';
}

export function batchCheck(): GatewayCheck[] {
  return [
    check(
      'batch',
      'denied-in-batch',
      'a JSON-RPC batch cannot carry a denied call past the policy, not even behind an allowed one',
      async (ctx, notes) => {
        const denied = (await deniedTools(ctx)).slice(0, 3);
        if (denied.length === 0) skip('the policy denies no tool');
        if (isLegacySse(ctx)) skip('batches are a Streamable HTTP matter; the gateway URL is legacy SSE');
        // An allowed call first: a gateway that decides a batch on its first message admits the rest.
        const lead = await allowedWithQuota(ctx, 2);
        const names = lead === undefined ? denied : [lead, ...denied];
        const batch = await Promise.all(
          names.map(async (name, i) => ({
            jsonrpc: '2.0',
            id: i + 1,
            method: 'tools/call',
            params: { name, arguments: await argsFor(ctx, name) },
          })),
        );
        // 2025-03-26 is the last protocol version that had batches: the strictest place to try one.
        const session = await openRawSession(ctx.endpoint, '2025-03-26');
        const at = Date.now();
        let answer: RawAnswer;
        try {
          answer = await session.post(batch);
        } finally {
          await session.close();
        }
        const doneAt = Date.now();
        if (answer.status >= 400) {
          notes.push(`the batch was refused as a whole (HTTP ${answer.status})`);
          return;
        }
        const problems: string[] = [];
        for (const [i, name] of names.entries()) {
          const verdict = verdictOf(answer, i + 1);
          if (verdict === 'admitted')
            ctx.ledger.record({ tool: name, at, doneAt, session: -1, kind: 'admitted' });
          if (name === lead) {
            notes.push(`the batch led with allowed '${lead}', which was ${verdict}`);
          } else if (verdict === 'admitted') {
            problems.push(
              `'${name}' went through inside a batch${lead === undefined ? '' : ` behind allowed '${lead}'`} although the policy denies it`,
            );
          }
        }
        if (lead === undefined) notes.push('no allowed tool with quota to lead the batch with');
        if (problems.length > 0) fail(problems.join('\n'));
      },
    ),
  ];
}

export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/** A 2026-07-28 request: no session; the protocol version, client and capabilities in `_meta`. */
async function postModern(
  endpoint: GatewayEndpoint,
  body: { jsonrpc: '2.0'; id: number; method: string; params: Record<string, unknown> },
  headers: Record<string, string>,
): Promise<RawAnswer> {
  const res = await fetch(endpoint.url, {
    method: 'POST',
    headers: { ...baseHeaders(endpoint), 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, ...headers },
    body: JSON.stringify({
      ...body,
      params: {
        ...body.params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'bastion-gateway-checks', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
  return readAnswer(res);
}

export function headersCheck(): GatewayCheck[] {
  return [
    check(
      'headers',
      'mcp-name',
      'a call is decided on its body: Mcp-Name naming an allowed tool does not carry a denied one through',
      async (ctx, notes) => {
        const denied = (await deniedTools(ctx))[0];
        if (denied === undefined) skip('the policy denies no tool');
        if (isLegacySse(ctx))
          skip('Mcp-Method/Mcp-Name are Streamable HTTP headers; the gateway URL is legacy SSE');
        const allowed = await allowedWithQuota(ctx, 3);
        if (allowed === undefined) skip('no allowed tool with quota to name in the Mcp-Name header');
        const call = {
          jsonrpc: '2.0' as const,
          id: 41,
          method: 'tools/call',
          params: { name: denied, arguments: await argsFor(ctx, denied) },
        };
        const headers = { 'mcp-method': 'tools/call', 'mcp-name': allowed };
        const problems: string[] = [];
        const judge = (era: string, answer: RawAnswer, at: number) => {
          const verdict = verdictOf(answer, call.id);
          notes.push(`${era}: ${verdict}${verdict === 'refused' ? ` (HTTP ${answer.status})` : ''}`);
          if (verdict !== 'admitted') return;
          ctx.ledger.record({ tool: denied, at, doneAt: Date.now(), session: -1, kind: 'admitted' });
          problems.push(
            `${era}: a call to denied '${denied}' went through under the header Mcp-Name: ${allowed}`,
          );
        };
        // In a 2025-era session, where the headers mean nothing and the body alone must decide.
        const session = await openRawSession(ctx.endpoint, '2025-11-25');
        try {
          const at = Date.now();
          judge(`in a ${session.protocolVersion} session`, await session.post(call, headers), at);
        } finally {
          await session.close();
        }
        // As a 2026-07-28 request, where the headers are required and must agree with the body. A
        // gateway that does not serve that era refuses it, which is fine: nothing went through.
        const at = Date.now();
        judge(`as a ${MODERN_PROTOCOL_VERSION} request`, await postModern(ctx.endpoint, call, headers), at);
        if (problems.length > 0) fail(problems.join('\n'));
      },
    ),
  ];
}
