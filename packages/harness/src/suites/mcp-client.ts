/**
 * An SDK client for whatever MCP endpoint a contract is pointed at: Streamable HTTP or legacy SSE,
 * given or detected (a URL ending in /sse is SSE; otherwise Streamable HTTP is tried first and SSE
 * after it, as the MCP spec's backwards-compatibility section suggests). It keeps the logging
 * notifications it receives and tells a tool result from a JSON-RPC error.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';

export type TransportChoice = 'auto' | 'streamable' | 'sse';
export type TransportKind = 'streamable' | 'sse';

export interface EndpointOptions {
  transport?: TransportChoice;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  clientName?: string;
}

export interface LoggingNotification {
  level: string;
  logger?: string;
  data: unknown;
}

/** The outcome of one tools/call: a result (possibly isError), or a JSON-RPC error. */
export type CallOutcome = { kind: 'result'; result: CallToolResult } | { kind: 'error'; message: string };

export interface McpEndpointSession {
  client: Client;
  transport: TransportKind;
  notifications: LoggingNotification[];
  listTools(): Promise<Tool[]>;
  /** Calls a tool; a JSON-RPC error comes back as `{ kind: 'error' }` instead of a throw. */
  call(name: string, args?: Record<string, unknown>): Promise<CallOutcome>;
  close(): Promise<void>;
}

export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

function pickTransport(url: URL, choice: TransportChoice): TransportKind[] {
  if (choice === 'streamable') return ['streamable'];
  if (choice === 'sse') return ['sse'];
  return url.pathname.endsWith('/sse') ? ['sse'] : ['streamable', 'sse'];
}

async function connectWith(kind: TransportKind, url: URL, options: EndpointOptions) {
  const headers: Record<string, string> =
    options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  const streamable =
    kind === 'streamable' ? new StreamableHTTPClientTransport(url, { requestInit: { headers } }) : undefined;
  const transport =
    streamable ??
    // requestInit's headers go on the event stream's GET too (SDK 1.32, _commonHeaders).
    new SSEClientTransport(url, { requestInit: { headers } });
  const client = new Client({ name: options.clientName ?? 'bastion-contract', version: '1.0.0' });
  const notifications: LoggingNotification[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    notifications.push(n.params as LoggingNotification);
  });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
  return { client, notifications, streamable };
}

export async function openEndpoint(url: string, options: EndpointOptions = {}): Promise<McpEndpointSession> {
  const target = new URL(url);
  const kinds = pickTransport(target, options.transport ?? 'auto');
  const failures: string[] = [];
  for (const kind of kinds) {
    let connected: Awaited<ReturnType<typeof connectWith>>;
    try {
      connected = await connectWith(kind, target, options);
    } catch (err) {
      failures.push(`${kind}: ${(err as Error).message}`);
      continue;
    }
    const { client, notifications, streamable } = connected;
    return {
      client,
      transport: kind,
      notifications,
      async listTools() {
        const tools: Tool[] = [];
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor === undefined ? {} : { cursor });
          tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        return tools;
      },
      async call(name, args = {}) {
        try {
          // The plain result schema: an SDK client would reject structuredContent that does not
          // match a tool's outputSchema, but a contract wants to see what the server sent.
          const result = (await client.request(
            { method: 'tools/call', params: { name, arguments: args } },
            CallToolResultSchema,
          )) as CallToolResult;
          return { kind: 'result', result };
        } catch (err) {
          return { kind: 'error', message: (err as Error).message };
        }
      },
      async close() {
        // A Streamable HTTP session ends with a DELETE; closing the client alone leaves it open.
        await streamable?.terminateSession().catch(() => undefined);
        await client.close().catch(() => undefined);
      },
    };
  }
  throw new Error(`could not open an MCP session at ${url} (${failures.join('; ')})`);
}
