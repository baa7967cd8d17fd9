/**
 * The upstream every MCP path calls: one `echo` tool on an SDK McpServer, hosted over Streamable
 * HTTP with @bastion/mcp-http like the real servers, so the direct path measures what an agent
 * talking to a Bastion server sees and the proxied paths add exactly their own hop.
 */
import { startMcpHttpHost } from '@bastion/mcp-http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';
import { z } from 'zod';

export const ECHO_TOOL = 'echo';

export function createEchoMcpServer(): McpServer {
  const server = new McpServer({ name: 'bastion-bench-echo', version: '1.0.0' });
  server.registerTool(
    ECHO_TOOL,
    {
      description: 'Returns its input text unchanged.',
      inputSchema: { text: z.string().max(10_000) },
      outputSchema: { text: z.string() },
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

export async function startEchoUpstream(options: { port: number; logger: Logger }): Promise<RunningServer> {
  const host = await startMcpHttpHost({
    name: 'bench-echo-upstream',
    logger: options.logger,
    port: options.port,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = createEchoMcpServer();
          await server.connect(transport);
          return { close: () => server.close() };
        },
      },
    ],
  });
  return { url: `${host.url}/mcp`, port: host.port, close: () => host.close() };
}
