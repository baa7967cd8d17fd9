/**
 * The background jobs and PTY shells of one MCP session (or, in the stateless era, of one
 * identity), sized by the server's configuration. `close()` ends them all on the remote; the
 * session closes its connections after it (and `ManagedConnection.close()` ends the rest: execs,
 * and jobs or shells of a connection closed on its own).
 */
import type { Logger } from 'pino';
import type { SshServerConfig } from './config.js';
import { JobTable } from './jobs.js';
import type { StopReason } from './remote-work.js';
import { ShellTable } from './shells.js';

export interface SessionWork {
  jobs: JobTable;
  shells: ShellTable;
  close(reason?: StopReason): Promise<void>;
}

export function createSessionWork(config: SshServerConfig, log: Logger): SessionWork {
  const jobs = new JobTable(
    {
      maxRunning: config.maxJobs,
      maxKept: config.maxJobs,
      maxOutputBytes: config.maxJobOutputBytes,
      maxTimeoutMs: config.maxJobMs,
      killGraceMs: config.killGraceMs,
    },
    log,
  );
  const shells = new ShellTable(
    {
      maxOpen: config.maxShells,
      maxOutputBytes: config.maxShellOutputBytes,
      defaultIdleTimeoutMs: config.shellIdleTimeoutMs,
      maxIdleTimeoutMs: config.maxShellIdleTimeoutMs,
      killGraceMs: config.killGraceMs,
    },
    log,
  );
  return {
    jobs,
    shells,
    async close(reason = 'session_closed') {
      await Promise.all([jobs.closeAll(reason), shells.closeAll(reason)]);
    },
  };
}
