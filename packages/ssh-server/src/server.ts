/**
 * One MCP session of the SSH server: an McpServer with the six tools and the session's own
 * connection registry. HTTP hosting (http.ts) and stdio (bin.ts) create one per session and share
 * the host-key policy, so a key trusted on first use binds every session for the server's lifetime.
 */
import type { ModernTasks } from '@bastion/mcp-http';
import { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { SshServerConfig } from './config.js';
import { ConnectionRegistry } from './connections.js';
import { HostKeyPolicy, KnownHosts } from './host-keys.js';
import { createLocalFiles, type LocalFiles } from './local-files.js';
import type { StopReason } from './remote-work.js';
import { createSessionWork } from './session-work.js';
import { registerCloseShellTool } from './tools/close-shell.js';
import { registerConnectTool } from './tools/connect.js';
import type { ToolContext } from './tools/context.js';
import { registerDisconnectTool } from './tools/disconnect.js';
import { registerDownloadFileTool } from './tools/download-file.js';
import { registerExecTool } from './tools/exec.js';
import { registerJobStatusTool } from './tools/job-status.js';
import { registerListConnectionsTool } from './tools/list-connections.js';
import { registerListJobsTool } from './tools/list-jobs.js';
import { registerListShellsTool } from './tools/list-shells.js';
import { registerOpenShellTool } from './tools/open-shell.js';
import { registerReadJobOutputTool } from './tools/read-job-output.js';
import { registerReadShellTool } from './tools/read-shell.js';
import { registerResizeShellTool } from './tools/resize-shell.js';
import { registerSignalJobTool } from './tools/signal-job.js';
import { registerStartJobTool } from './tools/start-job.js';
import { registerStopJobTool } from './tools/stop-job.js';
import { registerUploadFileTool } from './tools/upload-file.js';
import { registerWriteShellTool } from './tools/write-shell.js';

export const SERVER_NAME = 'bastion-ssh';
export const SERVER_VERSION = '0.2.0';

/** What lives as long as the server process: shared by all of its sessions. */
export interface SshServerShared {
  hostKeys: HostKeyPolicy;
  localFiles: LocalFiles | undefined;
}

/** Reads the known_hosts file and resolves the files root; throws with a clear message on a problem. */
export async function createSshServerShared(config: SshServerConfig): Promise<SshServerShared> {
  const knownHosts =
    config.knownHostsFile === undefined ? undefined : KnownHosts.fromFile(config.knownHostsFile);
  const hostKeys = new HostKeyPolicy({
    knownHosts,
    trustOnFirstUse: config.trustOnFirstUse,
    allowFingerprintOverride: config.allowFingerprintOverride,
  });
  const localFiles = config.filesRoot === undefined ? undefined : await createLocalFiles(config.filesRoot);
  return { hostKeys, localFiles };
}

export interface SshServerDeps {
  logger: Logger;
  shared: SshServerShared;
  /** For logs: which MCP session this is. */
  sessionId?: string;
}

export interface SshServerSession {
  server: McpServer;
  /**
   * Ends the session's jobs, shells and running execs on the remote, closes its SSH connections,
   * then the MCP server. Idempotent. Every way a session ends (DELETE, the SSE stream closing, stdio
   * EOF, server shutdown) comes through here.
   */
  close(): Promise<void>;
}

const INSTRUCTIONS =
  'SSH access: connect (host key verified), then exec commands, uploadFile/downloadFile over SFTP, ' +
  'listConnections, disconnect. Long work: startJob, then jobStatus/readJobOutput/signalJob/stopJob. ' +
  'Programs that need a terminal: openShell, writeShell, readShell, resizeShell, closeShell. ' +
  'Secrets you pass are kept in memory only and never returned. ' +
  'Connections belong to you alone (your session, or your identity when you send no session).';

/**
 * What one client of this server holds: its SSH connections. A 2025-era MCP session owns one; in
 * the stateless 2026 era a caller identity owns one (closed when the identity is idle); over stdio
 * the process owns one.
 */
export function createSshState(config: SshServerConfig, deps: SshServerDeps): ToolContext {
  const log = deps.sessionId === undefined ? deps.logger : deps.logger.child({ sessionId: deps.sessionId });
  const work = createSessionWork(config, log);
  return {
    config,
    registry: new ConnectionRegistry({ maxConnections: config.maxConnectionsPerSession }, log),
    hostKeys: deps.shared.hostKeys,
    localFiles: deps.shared.localFiles,
    log,
    jobs: work.jobs,
    shells: work.shells,
    closeWork: (reason) => work.close(reason),
  };
}

/**
 * Ends what a client holds: remote work first (jobs, shells), then the connections it runs on
 * (remote-work.ts): a closed connection alone leaves commands running on the host.
 */
export async function closeSshState(ctx: ToolContext, reason: StopReason = 'session_closed'): Promise<void> {
  await ctx.closeWork(reason);
  await ctx.registry.closeAll();
}

/** The tools that may run as MCP tasks (HTTP only: see http.ts). */
export const TASK_TOOLS: ReadonlySet<string> = new Set(['exec']);

/** How the server in front of this one serves tasks, if it does (@bastion/mcp-http tasks). */
export interface TaskServing {
  /** 2025 era: the session's transport serves tasks, so exec advertises `execution.taskSupport`. */
  legacy?: boolean;
  /** 2026 era: the identity's tasks, whose methods this server answers. */
  modern?: ModernTasks;
}

/** A fresh MCP server over one client's state: built per session, or per request in the 2026 era. */
export function buildSshMcpServer(ctx: ToolContext, tasks: TaskServing = {}): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    { capabilities: { tools: {}, logging: {} }, instructions: INSTRUCTIONS },
  );
  tasks.modern?.registerTaskMethods(server);
  registerConnectTool(server, ctx);
  const exec = registerExecTool(server, ctx);
  // The 2026 era has no such field (the SDK drops it there): tasks are server-directed.
  if (tasks.legacy === true) exec.execution = { taskSupport: 'optional' };
  registerDisconnectTool(server, ctx);
  registerListConnectionsTool(server, ctx);
  registerUploadFileTool(server, ctx);
  registerDownloadFileTool(server, ctx);
  registerStartJobTool(server, ctx);
  registerJobStatusTool(server, ctx);
  registerReadJobOutputTool(server, ctx);
  registerSignalJobTool(server, ctx);
  registerStopJobTool(server, ctx);
  registerListJobsTool(server, ctx);
  registerOpenShellTool(server, ctx);
  registerWriteShellTool(server, ctx);
  registerReadShellTool(server, ctx);
  registerResizeShellTool(server, ctx);
  registerCloseShellTool(server, ctx);
  registerListShellsTool(server, ctx);
  return server;
}

/** The MCP server of one 2025-era session, with connections of its own. */
export function createSshServer(
  config: SshServerConfig,
  deps: SshServerDeps,
  tasks: TaskServing = {},
): SshServerSession {
  const ctx = createSshState(config, deps);
  const server = buildSshMcpServer(ctx, tasks);
  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= (async () => {
        await closeSshState(ctx);
        await server.close();
      })();
      return closing;
    },
  };
}
