import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';

export const disconnectInput = { connectionId: z.string().min(1) };
export const disconnectOutput = { connectionId: z.string(), disconnected: z.boolean() };

export function registerDisconnectTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'disconnect',
    {
      title: 'Close an SSH connection',
      description: 'Closes a connection of this session and forgets its credentials.',
      inputSchema: z.object(disconnectInput),
      outputSchema: z.object(disconnectOutput),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    ({ connectionId }) =>
      runTool(ctx, 'disconnect', async () => {
        const closed = await ctx.registry.remove(connectionId);
        ctx.log.info({ connectionId }, 'ssh disconnected');
        return {
          content: [
            {
              type: 'text',
              text: `Disconnected ${connectionId} (${closed.username}@${closed.host}:${closed.port}).`,
            },
          ],
          structuredContent: { connectionId, disconnected: true },
        };
      }),
  );
}
