import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { jsonText, runTool, type ToolContext } from './context.js';
import { jobInfoShape } from './job-schemas.js';

export const listJobsInput = {
  connectionId: z.string().min(1).optional().describe('Only the jobs of this connection'),
};
export const listJobsOutput = { jobs: z.array(z.object(jobInfoShape)) };

export function registerListJobsTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'listJobs',
    {
      title: 'List background jobs',
      description: "Lists this session's jobs, running and recently finished, with their status.",
      inputSchema: z.object(listJobsInput),
      outputSchema: z.object(listJobsOutput),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ connectionId }) =>
      runTool(ctx, 'listJobs', async () => {
        const jobs = ctx.jobs
          .list()
          .filter((job) => connectionId === undefined || job.connectionId === connectionId)
          .map((job) => job.info());
        return {
          content: [{ type: 'text', text: jobs.length === 0 ? 'No jobs.' : jsonText(jobs) }],
          structuredContent: { jobs },
        };
      }),
  );
}
