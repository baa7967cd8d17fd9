import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { waitMsInput } from './job-schemas.js';
import { describeShell, shellIdInput, shellInfoShape } from './shell-schemas.js';

export const readShellInput = {
  shellId: shellIdInput,
  offset: z.number().int().min(0).optional().describe('Byte offset in the output to read from (default 0)'),
  maxBytes: z
    .number()
    .int()
    .min(16)
    .max(1024 * 1024)
    .optional()
    .describe('Most bytes returned (default 64 KiB)'),
  waitMs: waitMsInput
    .optional()
    .describe('Wait up to this long for output past offset (or the shell ending) before answering'),
  until: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe(
      'With waitMs: wait until the output past offset contains this text, e.g. a prompt such as "$ " or "Password:"',
    ),
};

export const readShellOutput = {
  ...shellInfoShape,
  output: z.string(),
  /** Where `output` starts: the offset asked for, or later when bytes were dropped. */
  offset: z.number(),
  nextOffset: z.number(),
  dropped: z.number(),
  more: z.boolean(),
};

export function registerReadShellTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'readShell',
    {
      title: 'Read the output of an interactive shell',
      description:
        'Reads what the terminal printed from a byte offset (raw, with escape sequences and \\r\\n line ends); pass ' +
        'nextOffset next time. With waitMs it waits for new output, and with until for text such as a prompt. ' +
        'The last outputBytes are kept: `dropped` says how many bytes before the offset are gone.',
      inputSchema: z.object(readShellInput),
      outputSchema: z.object(readShellOutput),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, call) =>
      runTool(ctx, 'readShell', async () => {
        const shell = ctx.shells.get(args.shellId);
        const offset = args.offset ?? 0;
        await shell.waitFor({ offset, until: args.until }, args.waitMs ?? 0, call.mcpReq.signal);
        const read = shell.read(offset, args.maxBytes ?? 64 * 1024);
        const text = [
          describeShell(shell),
          read.dropped > 0
            ? `${read.dropped} bytes before the offset are no longer held (dropped).`
            : undefined,
          read.more ? 'More output follows: read again from nextOffset.' : undefined,
          read.text === ''
            ? 'No new output.'
            : `--- output from ${read.offset} to ${read.nextOffset} ---\n${read.text}`,
        ]
          .filter(Boolean)
          .join('\n');
        return {
          content: [{ type: 'text', text }],
          structuredContent: {
            ...shell.info(),
            output: read.text,
            offset: read.offset,
            nextOffset: read.nextOffset,
            dropped: read.dropped,
            more: read.more,
          },
        };
      }),
  );
}
