import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { runTool, type ToolContext } from './context.js';
import { describeJob, jobIdInput, jobInfoShape } from './job-schemas.js';

export const signalJobInput = {
  jobId: jobIdInput,
  signal: z
    .enum(['TERM', 'INT', 'HUP', 'QUIT', 'KILL', 'USR1', 'USR2'])
    .optional()
    .describe('Signal sent to the job’s process group (default TERM)'),
};

export function registerSignalJobTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'signalJob',
    {
      title: 'Send a signal to a background job',
      description:
        "Sends a signal to a running job's whole process group (default TERM) and returns its status at once; " +
        'the job may handle the signal and keep running. stopJob ends a job for certain.',
      inputSchema: z.object(signalJobInput),
      outputSchema: z.object(jobInfoShape),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    ({ jobId, signal }) =>
      runTool(ctx, 'signalJob', async () => {
        const job = ctx.jobs.get(jobId);
        const name = signal ?? 'TERM';
        const running = job.running;
        job.signal(name);
        const said = running
          ? `Sent SIG${name} to job ${jobId}.`
          : `Job ${jobId} had already finished; no signal sent.`;
        return {
          content: [{ type: 'text', text: `${said} ${describeJob(job)}` }],
          structuredContent: { ...job.info() },
        };
      }),
  );
}
