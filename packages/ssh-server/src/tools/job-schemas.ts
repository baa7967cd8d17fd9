/** Schemas shared by the job tools (startJob, jobStatus, readJobOutput, signalJob, stopJob, listJobs). */
import { z } from 'zod';
import type { Job } from '../jobs.js';

export const jobIdInput = z.string().min(1).describe('The id startJob returned');

/** Long polls stay below the SDK's 60 s default request timeout. */
export const waitMsInput = z.number().int().min(0).max(30_000);

export const jobInfoShape = {
  jobId: z.string(),
  connectionId: z.string(),
  command: z.string(),
  state: z.enum(['running', 'finished']),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  durationMs: z.number(),
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  endReason: z
    .enum([
      'exited',
      'cwd_failed',
      'connection_lost',
      'stopped',
      'timeout',
      'idle_timeout',
      'connection_closed',
      'session_closed',
    ])
    .nullable(),
  stdoutBytes: z.number(),
  stderrBytes: z.number(),
  droppedBytes: z.number(),
  outputBytes: z.number(),
};

/** One line for the model: what the job is doing, or how it ended. */
export function describeJob(job: Job): string {
  const info = job.info();
  const output = `${info.stdoutBytes} bytes of stdout, ${info.stderrBytes} of stderr`;
  const dropped = info.droppedBytes > 0 ? `; ${info.droppedBytes} bytes dropped (ring full)` : '';
  if (info.state === 'running') return `Job ${info.jobId} is running (${output}${dropped}).`;
  const how =
    info.endReason === 'exited'
      ? info.exitCode !== null
        ? `exited with code ${info.exitCode}`
        : `was ended by ${info.signal ?? 'an unknown cause'}`
      : info.endReason === 'cwd_failed'
        ? 'did not run: its cwd could not be entered'
        : `ended (${info.endReason}${info.signal ? `, ${info.signal}` : ''})`;
  return `Job ${info.jobId} ${how} after ${info.durationMs} ms (${output}${dropped}).`;
}
