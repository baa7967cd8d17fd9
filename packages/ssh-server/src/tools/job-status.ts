import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { describeJob, jobIdInput, jobInfoShape, waitMsInput } from './job-schemas.js';

export const jobStatusInput = {
  jobId: jobIdInput,
  waitMs: waitMsInput
    .optional()
    .describe('Wait up to this long for the job to finish before answering (default 0: answer at once)'),
};

export function registerJobStatusTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'jobStatus',
    {
      title: 'Status of a background job',
      description:
        'Whether a job is running or finished, how it ended (exit code, signal, endReason) and how much output ' +
        'it printed. With waitMs, waits up to that long for it to finish.',
      inputSchema: z.object(jobStatusInput),
      outputSchema: z.object(jobInfoShape),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ jobId, waitMs }, call) =>
      runTool(ctx, 'jobStatus', async () => {
        const job = ctx.jobs.get(jobId);
        await job.waitFor(
          { stdoutOffset: 0, stderrOffset: 0, untilEnd: true },
          waitMs ?? 0,
          call.mcpReq.signal,
        );
        return {
          content: [{ type: 'text', text: describeJob(job) }],
          structuredContent: { ...job.info() },
        };
      }),
  );
}
