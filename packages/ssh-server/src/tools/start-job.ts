import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ENV_NAME_PATTERN } from '../shell.js';
import { runTool, type ToolContext } from './context.js';
import { describeJob, jobInfoShape } from './job-schemas.js';

export const startJobInput = {
  connectionId: z.string().min(1),
  command: z
    .string()
    .min(1, 'command must not be empty')
    .refine((c) => c.trim() !== '', 'command must not be blank')
    .refine((c) => !c.includes('\0'), 'command must not contain NUL'),
  cwd: z
    .string()
    .min(1)
    .refine((c) => !c.includes('\0'), 'cwd must not contain NUL')
    .optional()
    .describe('Directory to run in; if it cannot be entered the job ends at once (endReason cwd_failed)'),
  env: z
    .record(
      z.string().regex(ENV_NAME_PATTERN, 'environment variable names are letters, digits and _'),
      z.string().refine((v) => !v.includes('\0'), 'must not contain NUL'),
    )
    .optional()
    .describe('Environment variables for the command'),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Ends the job after this long (default and upper bound: the server maximum, 24 h unless configured)',
    ),
  outputBytes: z
    .number()
    .int()
    .min(1024)
    .optional()
    .describe(
      'Bytes of output kept per stream (default and upper bound: the server maximum, 1 MiB unless configured)',
    ),
};

export function registerStartJobTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'startJob',
    {
      title: 'Start a background job over SSH',
      description:
        'Starts a command on a connection and returns at once with a jobId, for work longer than a request ' +
        'should wait (builds, backups, servers). Read its output with readJobOutput (by offset; the last ' +
        'outputBytes of each stream are kept), check it with jobStatus, end it with signalJob or stopJob. The job ' +
        'gets no stdin. It ends, with everything it started, when its connection or this session closes.',
      inputSchema: z.object(startJobInput),
      outputSchema: z.object(jobInfoShape),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (args) =>
      runTool(ctx, 'startJob', async () => {
        const managed = ctx.registry.get(args.connectionId);
        const job = await ctx.jobs.start(managed, args);
        return {
          content: [{ type: 'text', text: `Started job ${job.id}. ${describeJob(job)}` }],
          structuredContent: { ...job.info() },
        };
      }),
  );
}
