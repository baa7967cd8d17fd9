import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { SshError } from '../errors.js';
import { requireLocalFiles, runTool, type ToolContext } from './context.js';
import { parseMode, REMOTE_PATH_RULE, withSftp } from './sftp.js';

export const uploadFileInput = {
  connectionId: z.string().min(1),
  remotePath: z.string().min(1).refine(REMOTE_PATH_RULE, 'remotePath must not contain NUL'),
  content: z.string().optional().describe('File content, in the given encoding (or give localPath)'),
  encoding: z.enum(['utf8', 'base64']).default('utf8').describe('How content is encoded (default utf8)'),
  localPath: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Upload this file instead of content; relative to the server’s --files-root, and only inside it',
    ),
  mode: z.string().optional().describe("Octal permissions of the remote file, e.g. '0644'"),
};

export const uploadFileOutput = {
  connectionId: z.string(),
  remotePath: z.string(),
  bytes: z.number(),
  mode: z.string().optional(),
  reconnected: z.boolean(),
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function registerUploadFileTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'uploadFile',
    {
      title: 'Upload a file over SFTP',
      description:
        'Writes a remote file over SFTP from content (utf8 or base64) or, when the server has --files-root, ' +
        'from a local file inside that root. Overwrites an existing file.',
      inputSchema: z.object(uploadFileInput),
      outputSchema: z.object(uploadFileOutput),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    },
    (args) =>
      runTool(ctx, 'uploadFile', async () => {
        const max = ctx.config.maxFileBytes;
        if ((args.content === undefined) === (args.localPath === undefined)) {
          throw new SshError('INVALID_INPUT', 'give exactly one of content and localPath');
        }
        const mode = parseMode(args.mode);
        const managed = ctx.registry.get(args.connectionId);
        let data: Buffer;
        if (args.localPath !== undefined) {
          data = await requireLocalFiles(ctx).read(args.localPath, max);
        } else {
          const content = args.content ?? '';
          if (args.encoding === 'base64') {
            const compact = content.replace(/\s+/g, '');
            if (!BASE64.test(compact) || compact.length % 4 === 1) {
              throw new SshError('INVALID_INPUT', 'content is not valid base64');
            }
            data = Buffer.from(compact, 'base64');
          } else {
            data = Buffer.from(content, 'utf8');
          }
          if (data.length > max) {
            throw new SshError('TOO_LARGE', `the upload has ${data.length} bytes; the limit is ${max}`, {
              size: data.length,
              limit: max,
            });
          }
        }
        const { reconnected } = await withSftp(managed, (sftp) =>
          sftp.writeFile(args.remotePath, data, mode),
        );
        ctx.log.info({ connectionId: managed.id, bytes: data.length }, 'file uploaded');
        const structured: Record<string, unknown> = {
          connectionId: managed.id,
          remotePath: args.remotePath,
          bytes: data.length,
          reconnected,
        };
        if (args.mode !== undefined) structured.mode = args.mode;
        return {
          content: [{ type: 'text', text: `Wrote ${data.length} bytes to ${args.remotePath}.` }],
          structuredContent: structured,
        };
      }),
  );
}
