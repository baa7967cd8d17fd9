import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { jsonText, runTool, type ToolContext } from './context.js';
import { shellInfoShape } from './shell-schemas.js';

export const listShellsOutput = { shells: z.array(z.object(shellInfoShape)) };

export function registerListShellsTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'listShells',
    {
      title: 'List interactive shells',
      description: "Lists this session's shells, open and recently ended, with their size and state.",
      inputSchema: z.object({}),
      outputSchema: z.object(listShellsOutput),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    () =>
      runTool(ctx, 'listShells', async () => {
        const shells = ctx.shells.list().map((shell) => shell.info());
        return {
          content: [{ type: 'text', text: shells.length === 0 ? 'No shells.' : jsonText(shells) }],
          structuredContent: { shells },
        };
      }),
  );
}
