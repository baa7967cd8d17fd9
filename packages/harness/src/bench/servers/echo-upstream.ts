/**
 * The upstream every MCP path calls: one `echo` tool on an SDK v2 `McpServer`, hosted with
 * @bastion/mcp-http like the real servers, both eras on one URL: 2025-11-25 sessions (a server per
 * session) and 2026-07-28 requests (`createMcpHandler` per identity, each bearer token its own
 * identity). So the direct path measures what an agent talking to a Bastion server sees, and the
 * proxied paths add exactly their own hop, in either era.
 */
import { createHash } from 'node:crypto';
import { sdkModernIdentity, startMcpHttpHost } from '@bastion/mcp-http';
import { createMcpHandler, InMemoryServerEventBus, McpServer } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ECHO_TOOL } from '../wire.js';

export function createEchoMcpServer(): McpServer {
  const server = new McpServer({ name: 'bastion-bench-echo', version: '2.0.0' });
  server.registerTool(
    ECHO_TOOL,
    {
      description: 'Returns its input text unchanged.',
      inputSchema: z.object({ text: z.string().max(10_000) }),
      outputSchema: z.object({ text: z.string() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ text }) => ({ content: [{ type: 'text', text }], structuredContent: { text } }),
  );
  return server;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Sessions and identities outlive the longest phase of a run (the idle-session ladder). */
const IDLE_TIMEOUT_MS = 2 * 60 * 60_000;

export async function startEchoUpstream(options: { port: number; logger: Logger }): Promise<RunningServer> {
  const host = await startMcpHttpHost({
    name: 'bench-echo-upstream',
    logger: options.logger,
    port: options.port,
    // No token is required, but each token given is an identity of its own (a digest, never the
    // token), so that 2026-era agents can be told apart as they would be behind a real server.
    authenticate: (token) => ({
      id:
        token === undefined
          ? 'anonymous'
          : `token:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`,
    }),
    idleSessionTimeoutMs: IDLE_TIMEOUT_MS,
    idleIdentityTimeoutMs: IDLE_TIMEOUT_MS,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = createEchoMcpServer();
          await server.connect(transport);
          return { close: () => server.close() };
        },
        async openIdentity(principal) {
          const handler = createMcpHandler(() => createEchoMcpServer(), {
            legacy: 'reject',
            bus: new InMemoryServerEventBus(),
          });
          return sdkModernIdentity(handler, principal, async () => undefined);
        },
      },
    ],
  });
  return { url: `${host.url}/mcp`, port: host.port, close: () => host.close() };
}
