import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { describeShell, shellIdInput, shellInfoShape } from './shell-schemas.js';

export const closeShellInput = { shellId: shellIdInput };

export function registerCloseShellTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'closeShell',
    {
      title: 'Close an interactive shell',
      description:
        'Hangs the terminal up, which ends the shell and what runs in it (SIGHUP, then KILL after a grace period), ' +
        'and forgets it. Read any output you still need first.',
      inputSchema: z.object(closeShellInput),
      outputSchema: z.object(shellInfoShape),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    ({ shellId }) =>
      runTool(ctx, 'closeShell', async () => {
        const shell = await ctx.shells.close(shellId);
        return {
          content: [{ type: 'text', text: describeShell(shell) }],
          structuredContent: { ...shell.info() },
        };
      }),
  );
}
