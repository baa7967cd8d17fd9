/**
 * The official clients as the gateway's agents, each driven through its own `callTool`: the v1 SDK
 * client (2025 era), and the v2 client in both eras (its default, the 2025 handshake, and pinned to
 * 2026-07-28). One shape for the tests, whichever client is behind it.
 */
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

export type AgentKind = 'v1' | 'v1-sse' | 'v2-2025' | 'v2-2026';
/** The clients every gateway suite runs with. */
export const AGENT_KINDS: ReadonlyArray<AgentKind> = ['v1', 'v2-2025', 'v2-2026'];

/** How the agent answers what a server asks (elicitation, sampling, roots), in either era. */
export interface AgentAnswers {
  elicit?: (params: Record<string, unknown>) => Record<string, unknown>;
  sample?: (params: Record<string, unknown>) => Record<string, unknown>;
  roots?: () => Record<string, unknown>;
}

export interface Agent {
  kind: AgentKind;
  era: 'legacy' | 'modern';
  callTool(
    name: string,
    args?: Record<string, unknown>,
    options?: { onprogress?: (p: unknown) => void; signal?: AbortSignal },
  ): Promise<CallToolResult>;
  listTools(): Promise<Array<{ name: string; outputSchema?: unknown }>>;
  readResource(uri: string): Promise<unknown>;
  /** The 2025-era session id, for a 2025-era agent over Streamable HTTP. */
  sessionId(): string | undefined;
  close(): Promise<void>;
  raw: V1Client | V2Client;
}

export async function connectAgent(
  url: string,
  token: string | undefined,
  kind: AgentKind,
  answers: AgentAnswers = {},
): Promise<Agent> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const capabilities = {
    ...(answers.elicit ? { elicitation: { form: {} } } : {}),
    ...(answers.sample ? { sampling: {} } : {}),
    ...(answers.roots ? { roots: {} } : {}),
  };
  if (kind === 'v1' || kind === 'v1-sse') {
    const client = new V1Client({ name: `agent-${kind}`, version: '1.0.0' }, { capabilities });
    if (answers.elicit)
      client.setRequestHandler(ElicitRequestSchema, async (r) => answers.elicit?.(r.params) as never);
    if (answers.sample)
      client.setRequestHandler(CreateMessageRequestSchema, async (r) => answers.sample?.(r.params) as never);
    if (answers.roots)
      client.setRequestHandler(ListRootsRequestSchema, async () => answers.roots?.() as never);
    const transport =
      kind === 'v1'
        ? new V1Transport(new URL(url), { requestInit: { headers } })
        : new SSEClientTransport(new URL(url.replace(/\/mcp$/, '/sse')), { requestInit: { headers } });
    await client.connect(transport);
    return {
      kind,
      era: 'legacy',
      callTool: async (name, args = {}, options = {}) =>
        (await client.callTool({ name, arguments: args }, undefined, options as never)) as CallToolResult,
      listTools: async () => (await client.listTools()).tools,
      readResource: (uri) => client.readResource({ uri }),
      sessionId: () => (transport instanceof V1Transport ? transport.sessionId : undefined),
      // A client that is done ends its session (DELETE), as a well-behaved one does.
      close: async () => {
        if (transport instanceof V1Transport) await transport.terminateSession().catch(() => undefined);
        await client.close().catch(() => undefined);
      },
      raw: client,
    };
  }
  const client = new V2Client(
    { name: `agent-${kind}`, version: '1.0.0' },
    {
      capabilities,
      ...(kind === 'v2-2026' ? { versionNegotiation: { mode: { pin: '2026-07-28' as const } } } : {}),
    },
  );
  if (answers.elicit)
    client.setRequestHandler('elicitation/create', async (r) => answers.elicit?.(r.params) as never);
  if (answers.sample)
    client.setRequestHandler('sampling/createMessage', async (r) => answers.sample?.(r.params) as never);
  if (answers.roots) client.setRequestHandler('roots/list', async () => answers.roots?.() as never);
  const transport = new V2Transport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return {
    kind,
    era: kind === 'v2-2026' ? 'modern' : 'legacy',
    callTool: async (name, args = {}, options = {}) =>
      (await client.callTool({ name, arguments: args }, options as never)) as CallToolResult,
    listTools: async () => (await client.listTools()).tools,
    readResource: (uri) => client.readResource({ uri }),
    sessionId: () => transport.sessionId,
    close: async () => {
      if (transport.sessionId !== undefined) await transport.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
    raw: client,
  };
}
