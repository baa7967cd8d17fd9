import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { describeJob, jobIdInput, jobInfoShape, waitMsInput } from './job-schemas.js';

const offset = z.number().int().min(0);

export const readJobOutputInput = {
  jobId: jobIdInput,
  stdoutOffset: offset.optional().describe('Byte offset in stdout to read from (default 0: the start)'),
  stderrOffset: offset.optional().describe('Byte offset in stderr to read from (default 0: the start)'),
  maxBytes: z
    .number()
    .int()
    .min(16)
    .max(1024 * 1024)
    .optional()
    .describe('Most bytes returned per stream (default 64 KiB)'),
  waitMs: waitMsInput
    .optional()
    .describe('Wait up to this long for output past the offsets (or the end of the job) before answering'),
};

export const readJobOutputOutput = {
  ...jobInfoShape,
  stdout: z.string(),
  stderr: z.string(),
  /** Where the returned text starts: the offset asked for, or later when bytes were dropped. */
  stdoutOffset: z.number(),
  stderrOffset: z.number(),
  nextStdoutOffset: z.number(),
  nextStderrOffset: z.number(),
  /** Bytes between the offsets asked for and the returned text that the rings no longer hold. */
  dropped: z.number(),
  /** More output is already there past the next offsets (the read was cut at maxBytes). */
  more: z.boolean(),
};

export function registerReadJobOutputTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'readJobOutput',
    {
      title: 'Read the output of a background job',
      description:
        "Reads a job's stdout and stderr from byte offsets; pass the returned nextStdoutOffset/nextStderrOffset " +
        'next time to get only what is new. Each stream keeps its last outputBytes: output older than that is ' +
        'gone, and `dropped` says how many bytes the read skipped. With waitMs, waits up to that long for new ' +
        'output or the end of the job.',
      inputSchema: z.object(readJobOutputInput),
      outputSchema: z.object(readJobOutputOutput),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, call) =>
      runTool(ctx, 'readJobOutput', async () => {
        const job = ctx.jobs.get(args.jobId);
        const stdoutOffset = args.stdoutOffset ?? 0;
        const stderrOffset = args.stderrOffset ?? 0;
        await job.waitFor(
          { stdoutOffset, stderrOffset, untilEnd: false },
          args.waitMs ?? 0,
          call.mcpReq.signal,
        );
        const { stdout, stderr } = job.read(stdoutOffset, stderrOffset, args.maxBytes ?? 64 * 1024);
        const dropped = stdout.dropped + stderr.dropped;
        const more = stdout.more || stderr.more;
        const text = [
          describeJob(job),
          dropped > 0
            ? `${dropped} bytes before the offsets asked for are no longer held (dropped).`
            : undefined,
          more ? 'More output follows: read again from the next offsets.' : undefined,
          stdout.text === '' ? undefined : `--- stdout from ${stdout.offset} ---\n${stdout.text}`,
          stderr.text === '' ? undefined : `--- stderr from ${stderr.offset} ---\n${stderr.text}`,
        ]
          .filter(Boolean)
          .join('\n');
        return {
          content: [{ type: 'text', text }],
          structuredContent: {
            ...job.info(),
            stdout: stdout.text,
            stderr: stderr.text,
            stdoutOffset: stdout.offset,
            stderrOffset: stderr.offset,
            nextStdoutOffset: stdout.nextOffset,
            nextStderrOffset: stderr.nextOffset,
            dropped,
            more,
          },
        };
      }),
  );
}
