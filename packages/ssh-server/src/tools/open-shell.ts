import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { colsInput, describeShell, rowsInput, shellInfoShape } from './shell-schemas.js';

export const openShellInput = {
  connectionId: z.string().min(1),
  term: z
    .string()
    .regex(/^[A-Za-z0-9._+-]{1,64}$/, 'a terminal type such as xterm-256color, vt100 or dumb')
    .optional()
    .describe('TERM for the remote (default xterm-256color)'),
  rows: rowsInput.optional().describe('Terminal height in lines (default 24)'),
  cols: colsInput.optional().describe('Terminal width in columns (default 80)'),
  idleTimeoutMs: z
    .number()
    .int()
    .min(1000)
    .optional()
    .describe('Close the shell after this long without a call on it (default 10 min; capped by the server)'),
  outputBytes: z
    .number()
    .int()
    .min(1024)
    .optional()
    .describe('Bytes of output kept (default and upper bound: the server maximum, 1 MiB unless configured)'),
};

export function registerOpenShellTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'openShell',
    {
      title: 'Open an interactive shell (PTY) over SSH',
      description:
        'Opens a login shell on a real pseudo-terminal, for programs that need one: sudo password prompts, ' +
        'REPLs, top, editors. Type with writeShell (text and named keys such as enter or ctrl-c), read with ' +
        'readShell from an offset (raw terminal output, escape sequences included), resize with resizeShell, ' +
        'end with closeShell. It closes by itself after idleTimeoutMs without a call, and with its connection ' +
        'or this session.',
      inputSchema: z.object(openShellInput),
      outputSchema: z.object(shellInfoShape),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args) =>
      runTool(ctx, 'openShell', async () => {
        const managed = ctx.registry.get(args.connectionId);
        const shell = await ctx.shells.open(managed, args);
        return {
          content: [{ type: 'text', text: `Opened shell ${shell.id}. ${describeShell(shell)}` }],
          structuredContent: { ...shell.info() },
        };
      }),
  );
}
