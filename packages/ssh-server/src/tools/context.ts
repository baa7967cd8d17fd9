import { runTool as runKitTool } from '@bastion/mcp-http/kit';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { SshServerConfig } from '../config.js';
import type { ConnectionRegistry } from '../connections.js';
import { SshError, toSshError } from '../errors.js';
import type { HostKeyPolicy } from '../host-keys.js';
import type { JobTable } from '../jobs.js';
import type { LocalFiles } from '../local-files.js';
import type { StopReason } from '../remote-work.js';
import type { ShellTable } from '../shells.js';

/** What every tool of one MCP session works with. */
export interface ToolContext {
  config: SshServerConfig;
  /** This session's connections. */
  registry: ConnectionRegistry;
  /** Shared by all sessions of the server. */
  hostKeys: HostKeyPolicy;
  localFiles: LocalFiles | undefined;
  log: Logger;
  /** This session's (or identity's) background jobs and PTY shells. */
  jobs: JobTable;
  shells: ShellTable;
  /** Ends every job and shell on the remote (before the connections close). */
  closeWork(reason: StopReason): Promise<void>;
}

/**
 * Runs a tool body with the kit's runTool: an SshError becomes an `isError` result with a stable
 * code; an error from the SSH library keeps its message (it says what failed) as EXEC_FAILED. Only
 * the tool name, the code and ids are logged, never argument values.
 */
export function runTool(
  ctx: ToolContext,
  tool: string,
  body: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  return runKitTool(ctx.log, tool, body, {
    classify: (err) => (err instanceof Error ? toSshError(err, 'EXEC_FAILED', `${tool} failed`) : undefined),
  });
}

/** Throws the LOCAL_FILES_DISABLED error unless --files-root is set. */
export function requireLocalFiles(ctx: ToolContext): NonNullable<ToolContext['localFiles']> {
  if (ctx.localFiles === undefined) {
    throw new SshError(
      'LOCAL_FILES_DISABLED',
      'localPath needs the server to be started with --files-root; without it no local file is read or written',
    );
  }
  return ctx.localFiles;
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
