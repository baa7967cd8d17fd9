import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { colsInput, describeShell, rowsInput, shellIdInput, shellInfoShape } from './shell-schemas.js';

export const resizeShellInput = {
  shellId: shellIdInput,
  rows: rowsInput.describe('New height in lines'),
  cols: colsInput.describe('New width in columns'),
};

export function registerResizeShellTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'resizeShell',
    {
      title: 'Resize an interactive shell',
      description:
        "Changes the terminal's size; the program in the foreground is told (SIGWINCH) and redraws to fit.",
      inputSchema: z.object(resizeShellInput),
      outputSchema: z.object(shellInfoShape),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    ({ shellId, rows, cols }) =>
      runTool(ctx, 'resizeShell', async () => {
        const shell = ctx.shells.get(shellId);
        shell.resize(rows, cols);
        return {
          content: [{ type: 'text', text: describeShell(shell) }],
          structuredContent: { ...shell.info() },
        };
      }),
  );
}
