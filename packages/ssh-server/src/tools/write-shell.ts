import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { SshError } from '../errors.js';
import { inputBytes, KEY_NAMES } from '../keys.js';
import { runTool, type ToolContext } from './context.js';
import { shellIdInput } from './shell-schemas.js';

export const writeShellInput = {
  shellId: shellIdInput,
  // Marked secret (JSON Schema `writeOnly`) so that a gateway redacts it from its audit: this is
  // where a sudo password is typed. The server itself never logs it.
  text: z
    .string()
    .max(64 * 1024)
    .optional()
    .describe(
      'Text typed into the terminal as is (may be a password at a prompt: it is never logged, and audited only redacted). ' +
        'Use keys for Enter and other special keys.',
    )
    .meta({ writeOnly: true }),
  keys: z
    .array(z.enum(KEY_NAMES))
    .max(256)
    .optional()
    .describe(
      'Named keys typed after text, in order: enter, tab, backspace, escape, up, down, left, right, ctrl-c, ctrl-d, ...',
    ),
};

export const writeShellOutput = {
  shellId: z.string(),
  bytesWritten: z.number(),
  /** The end of the output when the input was written: read from here to see only what follows. */
  outputEnd: z.number(),
};

export function registerWriteShellTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'writeShell',
    {
      title: 'Type into an interactive shell',
      description:
        'Types text and then named keys into a shell opened with openShell, e.g. {"text": "ls -l", "keys": ["enter"]} ' +
        'or {"keys": ["ctrl-c"]}. Returns outputEnd: call readShell from there (with waitMs, and until for a ' +
        'prompt) to see what the program printed in answer.',
      inputSchema: z.object(writeShellInput),
      outputSchema: z.object(writeShellOutput),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    ({ shellId, text, keys }) =>
      runTool(ctx, 'writeShell', async () => {
        if ((text === undefined || text === '') && (keys === undefined || keys.length === 0)) {
          throw new SshError('INVALID_INPUT', 'give text, keys or both to type');
        }
        const shell = ctx.shells.get(shellId);
        const data = inputBytes(text, keys);
        const outputEnd = shell.output.end;
        shell.write(data);
        return {
          // Never echo what was typed: it may be a password.
          content: [
            {
              type: 'text',
              text: `Typed ${data.length} bytes into shell ${shellId}; output so far ends at ${outputEnd}.`,
            },
          ],
          structuredContent: { shellId, bytesWritten: data.length, outputEnd },
        };
      }),
  );
}
