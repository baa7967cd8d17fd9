import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { jsonText, runTool, type ToolContext } from './context.js';

export const connectionInfoSchema = z.object({
  connectionId: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  username: z.string(),
  state: z.enum(['ready', 'dead', 'reconnecting', 'closed']),
  fingerprint: z.string(),
  openedAt: z.string(),
  lastError: z.string().optional(),
  reconnects: z.number(),
  activeExecs: z.number(),
});

export const listConnectionsOutput = { connections: z.array(connectionInfoSchema) };

export function registerListConnectionsTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'listConnections',
    {
      title: 'List SSH connections',
      description:
        "Lists this session's connections with their state: ready, dead (the server went away or stopped " +
        'answering keepalives; the next exec reconnects once), reconnecting, or closed.',
      inputSchema: z.object({}),
      outputSchema: z.object(listConnectionsOutput),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    () =>
      runTool(ctx, 'listConnections', async () => {
        const connections = ctx.registry.list().map((c) => c.info());
        return {
          content: [
            {
              type: 'text',
              text: connections.length === 0 ? 'No open connections.' : jsonText(connections),
            },
          ],
          structuredContent: { connections },
        };
      }),
  );
}
