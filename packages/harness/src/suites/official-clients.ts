/**
 * The official MCP clients as a user runs them, behind one small interface so a test can run the same
 * steps through each: the v1 client (`@modelcontextprotocol/sdk`, 2025-11-25), and the v2 client
 * (`@modelcontextprotocol/client`) in both eras, 2025-11-25 (its default `initialize` handshake) and
 * pinned to 2026-07-28. Every call goes through the client's own `callTool`, which validates results
 * against the tool's `outputSchema`: raw `tools/call` skips that check, which is how error results
 * that every official client rejects once went unnoticed.
 */
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2Stdio } from '@modelcontextprotocol/client/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1Stdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as V1Http } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

export type ClientKind = 'v1' | 'v2-2025' | 'v2-2026';
export type Era = '2025-11-25' | '2026-07-28';

export const CLIENT_KINDS: ReadonlyArray<ClientKind> = ['v1', 'v2-2025', 'v2-2026'];
export const ERA_OF: Readonly<Record<ClientKind, Era>> = {
  v1: '2025-11-25',
  'v2-2025': '2025-11-25',
  'v2-2026': '2026-07-28',
};

/** A tool result as both clients return it (the fields a test reads). */
export interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

export interface OfficialClient {
  readonly kind: ClientKind;
  readonly era: Era;
  listTools(): Promise<Array<{ name: string; description?: string; inputSchema: { required?: string[] } }>>;
  callTool(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  readResource(uri: string): Promise<Array<{ uri: string; text?: string; blob?: string }>>;
  /** Asks to hear of updates to `uri` (resources/subscribe, or a subscriptions/listen stream). */
  watchResource(uri: string): Promise<void>;
  /** URIs of every resources/updated notification received so far. */
  readonly updated: string[];
  serverName(): string | undefined;
  close(): Promise<void>;
}

export type ClientTarget =
  | { url: string; token?: string; headers?: Record<string, string> }
  | { command: string; args: string[]; env?: Record<string, string> };

function headersOf(target: { token?: string; headers?: Record<string, string> }): Record<string, string> {
  return {
    ...(target.headers ?? {}),
    ...(target.token === undefined ? {} : { authorization: `Bearer ${target.token}` }),
  };
}

async function connectV1(target: ClientTarget): Promise<OfficialClient> {
  const client = new V1Client({ name: 'bastion-harness-v1', version: '1.0.0' });
  const updated: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updated.push(n.params.uri);
  });
  const transport =
    'url' in target
      ? new V1Http(new URL(target.url), { requestInit: { headers: headersOf(target) } })
      : new V1Stdio({
          command: target.command,
          args: target.args,
          ...(target.env ? { env: target.env } : {}),
          stderr: 'ignore',
        });
  await client.connect(transport);
  return {
    kind: 'v1',
    era: '2025-11-25',
    updated,
    listTools: async () => (await client.listTools()).tools,
    callTool: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as ToolResult,
    readResource: async (uri) => (await client.readResource({ uri })).contents as never,
    watchResource: async (uri) => {
      await client.subscribeResource({ uri });
    },
    serverName: () => client.getServerVersion()?.name,
    close: () => client.close(),
  };
}

async function connectV2(kind: 'v2-2025' | 'v2-2026', target: ClientTarget): Promise<OfficialClient> {
  const modern = kind === 'v2-2026';
  const client = new V2Client(
    { name: `bastion-harness-${kind}`, version: '1.0.0' },
    modern ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  const updated: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', async (n) => {
    updated.push(n.params.uri);
  });
  const transport =
    'url' in target
      ? new V2Http(new URL(target.url), { requestInit: { headers: headersOf(target) } })
      : new V2Stdio({
          command: target.command,
          args: target.args,
          ...(target.env ? { env: target.env } : {}),
          stderr: 'ignore',
        });
  await client.connect(transport);
  const listens: Array<{ close(): Promise<void> }> = [];
  return {
    kind,
    era: ERA_OF[kind],
    updated,
    listTools: async () => (await client.listTools()).tools as never,
    callTool: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as ToolResult,
    readResource: async (uri) => (await client.readResource({ uri })).contents as never,
    watchResource: async (uri) => {
      if (modern) listens.push(await client.listen({ resourceSubscriptions: [uri] }));
      else await client.subscribeResource({ uri });
    },
    serverName: () => client.getServerVersion()?.name,
    close: async () => {
      await Promise.all(listens.map((l) => l.close().catch(() => {})));
      await client.close();
    },
  };
}

/** Connects the official client of `kind` to an MCP server over Streamable HTTP or stdio. */
export function connectOfficialClient(kind: ClientKind, target: ClientTarget): Promise<OfficialClient> {
  return kind === 'v1' ? connectV1(target) : connectV2(kind, target);
}

/** The text of a result's content blocks, joined. */
export function resultText(result: ToolResult): string {
  return result.content.map((c) => c.text ?? '').join('');
}
