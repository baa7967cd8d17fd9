import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { describeJob, jobIdInput, jobInfoShape } from './job-schemas.js';

export const stopJobInput = { jobId: jobIdInput };

export function registerStopJobTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'stopJob',
    {
      title: 'Stop a background job',
      description:
        'Ends a job and everything it started: TERM to its process group, KILL after a grace period, then its ' +
        'channel is closed. Returns once it has ended (endReason stopped); its output stays readable.',
      inputSchema: z.object(stopJobInput),
      outputSchema: z.object(jobInfoShape),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    },
    ({ jobId }) =>
      runTool(ctx, 'stopJob', async () => {
        const job = ctx.jobs.get(jobId);
        await job.stop('stopped');
        return {
          content: [{ type: 'text', text: describeJob(job) }],
          structuredContent: { ...job.info() },
        };
      }),
  );
}
