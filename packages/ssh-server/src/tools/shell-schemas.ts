/** Schemas shared by the shell tools (openShell, writeShell, readShell, resizeShell, closeShell, listShells). */
import { z } from 'zod';
import type { Shell } from '../shells.js';

export const shellIdInput = z.string().min(1).describe('The id openShell returned');
export const rowsInput = z.number().int().min(1).max(1000);
export const colsInput = z.number().int().min(1).max(1000);

export const shellInfoShape = {
  shellId: z.string(),
  connectionId: z.string(),
  term: z.string(),
  rows: z.number(),
  cols: z.number(),
  state: z.enum(['open', 'closed']),
  openedAt: z.string(),
  closeReason: z
    .enum([
      'exited',
      'connection_lost',
      'stopped',
      'timeout',
      'idle_timeout',
      'connection_closed',
      'session_closed',
    ])
    .nullable(),
  exitCode: z.number().nullable(),
  outputEnd: z.number(),
  droppedBytes: z.number(),
  idleTimeoutMs: z.number(),
};

export function describeShell(shell: Shell): string {
  const info = shell.info();
  const size = `${info.cols}x${info.rows} ${info.term}`;
  if (info.state === 'open')
    return `Shell ${info.shellId} is open (${size}; ${info.outputEnd} bytes of output so far).`;
  const code = info.exitCode === null ? '' : `, exit code ${info.exitCode}`;
  return `Shell ${info.shellId} is closed (${info.closeReason ?? 'closing'}${code}; ${info.outputEnd} bytes of output).`;
}
