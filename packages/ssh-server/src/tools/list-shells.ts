import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { runCheckedTool } from './checked.js';
import { jsonText, type ToolContext } from './context.js';
import { shellInfoShape } from './shell-schemas.js';

export const listShellsOutput = { shells: z.array(z.object(shellInfoShape)) };

export function registerListShellsTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'listShells',
    {
      title: 'List interactive shells',
      description: "Lists this session's shells, open and recently ended, with their size and state.",
      inputSchema: {},
      outputSchema: listShellsOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    () =>
      runCheckedTool(ctx, 'listShells', listShellsOutput, async () => {
        const shells = ctx.shells.list().map((shell) => shell.info());
        return {
          content: [{ type: 'text', text: shells.length === 0 ? 'No shells.' : jsonText(shells) }],
          structuredContent: { shells },
        };
      }),
  );
}
