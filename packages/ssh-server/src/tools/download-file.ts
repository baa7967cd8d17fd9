import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { SshError } from '../errors.js';
import { requireLocalFiles, runTool, type ToolContext } from './context.js';
import { REMOTE_PATH_RULE, withSftp } from './sftp.js';

export const downloadFileInput = {
  connectionId: z.string().min(1),
  remotePath: z.string().min(1).refine(REMOTE_PATH_RULE, 'remotePath must not contain NUL'),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Refuse files larger than this (default 1 MiB for content, capped by the server)'),
  localPath: z
    .string()
    .min(1)
    .optional()
    .describe('Save to this file instead of returning the content; relative to --files-root, only inside it'),
};

export const downloadFileOutput = {
  connectionId: z.string(),
  remotePath: z.string(),
  bytes: z.number(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  content: z.string().optional(),
  localPath: z.string().optional(),
  reconnected: z.boolean(),
};

const DEFAULT_CONTENT_MAX = 1024 * 1024;

export function registerDownloadFileTool(server: McpServer, ctx: ToolContext): void {
  // With --files-root the tool can write local files; say so in its annotations.
  const writesLocal = ctx.localFiles !== undefined;
  server.registerTool(
    'downloadFile',
    {
      title: 'Download a file over SFTP',
      description:
        'Reads a remote file over SFTP and returns its content (utf8 when it is valid UTF-8, else base64) or, ' +
        'when the server has --files-root, saves it to localPath inside that root. Files over maxBytes are refused.',
      inputSchema: z.object(downloadFileInput),
      outputSchema: z.object(downloadFileOutput),
      annotations: {
        readOnlyHint: !writesLocal,
        destructiveHint: writesLocal,
        idempotentHint: true,
        openWorldHint: true,
      },
    },
    (args) =>
      runTool(ctx, 'downloadFile', async () => {
        const cap = ctx.config.maxFileBytes;
        const local = args.localPath === undefined ? undefined : requireLocalFiles(ctx);
        const limit = Math.min(args.maxBytes ?? (local ? cap : DEFAULT_CONTENT_MAX), cap);
        const managed = ctx.registry.get(args.connectionId);
        if (local !== undefined && args.localPath !== undefined) await local.check(args.localPath);
        const { value: data, reconnected } = await withSftp(managed, async (sftp) => {
          const { size } = await sftp.stat(args.remotePath);
          if (size > limit) throw tooLarge(args.remotePath, size, limit);
          const bytes = await sftp.readFile(args.remotePath, limit);
          // The file may have grown since stat.
          if (bytes.length > limit) throw tooLarge(args.remotePath, undefined, limit);
          return bytes;
        });
        ctx.log.info({ connectionId: managed.id, bytes: data.length }, 'file downloaded');
        if (local !== undefined && args.localPath !== undefined) {
          await local.write(args.localPath, data);
          return {
            content: [
              {
                type: 'text',
                text: `Saved ${data.length} bytes from ${args.remotePath} to ${args.localPath}.`,
              },
            ],
            structuredContent: {
              connectionId: managed.id,
              remotePath: args.remotePath,
              bytes: data.length,
              localPath: args.localPath,
              reconnected,
            },
          };
        }
        let encoding: 'utf8' | 'base64' = 'utf8';
        let content: string;
        try {
          content = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
        } catch {
          encoding = 'base64';
          content = data.toString('base64');
        }
        return {
          content: [
            {
              type: 'text',
              text: `${args.remotePath} (${data.length} bytes, ${encoding}):\n${content}`,
            },
          ],
          structuredContent: {
            connectionId: managed.id,
            remotePath: args.remotePath,
            bytes: data.length,
            encoding,
            content,
            reconnected,
          },
        };
      }),
  );
}

function tooLarge(path: string, size: number | undefined, limit: number): SshError {
  const has = size === undefined ? 'is larger than' : `has ${size} bytes, more than`;
  return new SshError('FILE_TOO_LARGE', `${path} ${has} the limit of ${limit} bytes (maxBytes)`, {
    remotePath: path,
    size,
    limit,
  });
}
