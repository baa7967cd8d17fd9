/**
 * A small policy gateway written only to be checked: correct with `fault: 'none'`, and with one
 * deliberate, realistic fault otherwise, so the gateway checks can be seen to catch each one:
 *   over-admit    limits compare with `>` instead of `>=`: one call too many per window
 *   no-hide       hidden tools are denied but still listed
 *   case-variant  tool names are looked up case-insensitively, in the policy and the upstream
 *   session-loss  an upstream restart is not noticed: the old upstream session is used until it fails
 * It reads the documented policy format (default, hide, tools with action and limits, all_tools).
 */
import { bearerTokenAuthenticator, type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';

export type NaiveFault = 'none' | 'over-admit' | 'no-hide' | 'case-variant' | 'session-loss';

interface Limit {
  counter: string;
  window: 'second' | 'minute' | 'hour' | 'day';
  max: number;
}

interface Rule {
  action?: 'allow' | 'deny';
  reason?: string;
  limits?: ReadonlyArray<Limit>;
}

export interface NaivePolicy {
  default: 'allow' | 'deny';
  hide?: ReadonlyArray<string>;
  all_tools?: { limits?: ReadonlyArray<Limit> };
  tools?: Readonly<Record<string, Rule>>;
}

const WINDOW_MS = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

function denied(reason: string, retryAfterMs?: number): CallToolResult {
  return {
    content: [{ type: 'text', text: `[POLICY DENIED] ${reason}` }],
    isError: true,
    structuredContent: { code: 'POLICY_DENIED', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
  };
}

export interface NaiveGateway {
  /** Streamable HTTP endpoint. */
  url: string;
  host: McpHttpHost;
  close(): Promise<void>;
}

export async function startNaiveGateway(options: {
  upstreamUrl: string;
  policy: NaivePolicy;
  token: string;
  fault: NaiveFault;
}): Promise<NaiveGateway> {
  const { policy, fault } = options;
  const counters = new Map<string, { windowStart: number; count: number }>();
  const fold = (name: string) => (fault === 'case-variant' ? name.toLowerCase() : name);
  const find = <T>(names: Iterable<[string, T]>, name: string): [string, T] | undefined => {
    for (const entry of names) if (fold(entry[0]) === fold(name)) return entry;
    return undefined;
  };
  const isHidden = (name: string) => (policy.hide ?? []).some((h) => fold(h) === fold(name));

  /** Reserves one unit in each counter, or says which limit denies. */
  const takeQuota = (limits: ReadonlyArray<Limit>): CallToolResult | undefined => {
    const now = Date.now();
    for (const limit of limits) {
      const windowMs = WINDOW_MS[limit.window];
      const windowStart = Math.floor(now / windowMs) * windowMs;
      const state = counters.get(limit.counter);
      const count = state?.windowStart === windowStart ? state.count : 0;
      const full = fault === 'over-admit' ? count > limit.max : count >= limit.max;
      if (full) return denied(`rate limit '${limit.counter}' reached`, windowStart + windowMs - now);
    }
    for (const limit of limits) {
      const windowMs = WINDOW_MS[limit.window];
      const windowStart = Math.floor(now / windowMs) * windowMs;
      const state = counters.get(limit.counter);
      counters.set(limit.counter, {
        windowStart,
        count: state?.windowStart === windowStart ? state.count + 1 : 1,
      });
    }
    return undefined;
  };

  const connectUpstream = async () => {
    const client = new Client({ name: 'naive-gateway', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(options.upstreamUrl)));
    return client;
  };

  const host = await startMcpHttpHost({
    name: 'naive-gateway',
    logger: pino({ level: 'silent' }),
    port: 0,
    authenticate: bearerTokenAuthenticator(options.token),
    endpoints: [
      {
        streamablePath: '/mcp',
        sse: { streamPath: '/sse', messagePath: '/messages' },
        async openSession(transport) {
          let upstream = await connectUpstream();
          /** Runs `fn` on the upstream session; after an upstream restart, on a new one. */
          const withUpstream = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
            try {
              return await fn(upstream);
            } catch (err) {
              if (fault === 'session-loss' || err instanceof McpError) throw err;
              await upstream.close().catch(() => undefined);
              upstream = await connectUpstream();
              return fn(upstream);
            }
          };
          const server = new Server(
            { name: 'naive-gateway', version: '1.0.0' },
            { capabilities: { tools: {} } },
          );
          server.setRequestHandler(ListToolsRequestSchema, async () => {
            const { tools } = await withUpstream((c) => c.listTools());
            return { tools: fault === 'no-hide' ? tools : tools.filter((t) => !isHidden(t.name)) };
          });
          server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
            const asked = request.params.name;
            if (isHidden(asked)) return denied(`tool '${asked}' is not available`);
            const upstreamTools: Tool[] = (await withUpstream((c) => c.listTools())).tools;
            const tool = find(
              upstreamTools.map((t) => [t.name, t] as [string, Tool]),
              asked,
            );
            if (tool === undefined) return denied(`no tool named '${asked}'`);
            const rule = find(Object.entries(policy.tools ?? {}), asked)?.[1];
            if (rule === undefined && policy.default === 'deny') return denied(`'${asked}' is not allowed`);
            if (rule?.action === 'deny') return denied(rule.reason ?? `'${asked}' is denied`);
            const overLimit = takeQuota([...(policy.all_tools?.limits ?? []), ...(rule?.limits ?? [])]);
            if (overLimit !== undefined) return overLimit;
            try {
              return (await withUpstream((c) =>
                c.callTool({ name: tool[0], arguments: request.params.arguments ?? {} }),
              )) as CallToolResult;
            } catch (err) {
              if (err instanceof McpError) throw err;
              throw new McpError(ErrorCode.InternalError, `upstream failed: ${(err as Error).message}`);
            }
          });
          await server.connect(transport);
          return {
            async close() {
              await server.close();
              await upstream.close().catch(() => undefined);
            },
          };
        },
      },
    ],
  });
  return { url: `${host.url}/mcp`, host, close: () => host.close() };
}
