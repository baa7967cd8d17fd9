import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { SshServerConfig } from '../config.js';
import type { ConnectionRegistry } from '../connections.js';
import { SshError, toSshError } from '../errors.js';
import type { HostKeyPolicy } from '../host-keys.js';
import type { JobTable } from '../jobs.js';
import type { LocalFiles } from '../local-files.js';
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
  /** This session's background jobs and PTY shells. */
  jobs: JobTable;
  shells: ShellTable;
}

/**
 * Runs a tool body: an SshError (or anything thrown) becomes an `isError` result with a stable code;
 * only the tool name, the code and ids are logged, never argument values.
 */
export async function runTool(
  ctx: ToolContext,
  tool: string,
  body: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  try {
    const result = await body();
    ctx.log.debug({ tool, isError: result.isError === true }, 'tool call');
    return result;
  } catch (err) {
    const error = toSshError(err, 'exec_failed', `${tool} failed`);
    const level = error.code === 'invalid_input' || error.code === 'unknown_connection' ? 'debug' : 'info';
    ctx.log[level]({ tool, code: error.code }, 'tool call failed');
    return error.toToolResult();
  }
}

/** Throws the `local_files_disabled` error unless --files-root is set. */
export function requireLocalFiles(ctx: ToolContext): NonNullable<ToolContext['localFiles']> {
  if (ctx.localFiles === undefined) {
    throw new SshError(
      'local_files_disabled',
      'localPath needs the server to be started with --files-root; without it no local file is read or written',
    );
  }
  return ctx.localFiles;
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
