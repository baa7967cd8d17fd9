/**
 * One MCP session of the SSH server: an McpServer with the six tools and the session's own
 * connection registry. HTTP hosting (http.ts) and stdio (bin.ts) create one per session and share
 * the host-key policy, so a key trusted on first use binds every session for the server's lifetime.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';
import type { SshServerConfig } from './config.js';
import { ConnectionRegistry } from './connections.js';
import { HostKeyPolicy, KnownHosts } from './host-keys.js';
import { createLocalFiles, type LocalFiles } from './local-files.js';
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
export const SERVER_VERSION = '0.1.0';

/** What lives as long as the server process: shared by all of its sessions. */
export interface SshServerShared {
  hostKeys: HostKeyPolicy;
  localFiles: LocalFiles | undefined;
}

/** Reads the known_hosts file and resolves the files root; throws with a clear message on a problem. */
export async function createSshServerShared(config: SshServerConfig): Promise<SshServerShared> {
  const knownHosts =
    config.knownHostsFile === undefined ? undefined : KnownHosts.fromFile(config.knownHostsFile);
  const hostKeys = new HostKeyPolicy({ knownHosts, trustOnFirstUse: config.trustOnFirstUse });
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

export function createSshServer(config: SshServerConfig, deps: SshServerDeps): SshServerSession {
  const log = deps.sessionId === undefined ? deps.logger : deps.logger.child({ sessionId: deps.sessionId });
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { tools: {}, logging: {} },
      instructions:
        'SSH access: connect (host key verified), then exec commands, uploadFile/downloadFile over SFTP, ' +
        'listConnections, disconnect. Long work: startJob, then jobStatus/readJobOutput/signalJob/stopJob. ' +
        'Programs that need a terminal: openShell, writeShell, readShell, resizeShell, closeShell. ' +
        'Secrets you pass are kept in memory only and never returned.',
    },
  );
  const registry = new ConnectionRegistry({ maxConnections: config.maxConnectionsPerSession }, log);
  const work = createSessionWork(config, log);
  const ctx: ToolContext = {
    config,
    registry,
    hostKeys: deps.shared.hostKeys,
    localFiles: deps.shared.localFiles,
    log,
    jobs: work.jobs,
    shells: work.shells,
  };
  registerConnectTool(server, ctx);
  registerExecTool(server, ctx);
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

  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= (async () => {
        // Remote work first, then the connections it runs on (remote-work.ts): a closed connection
        // alone leaves commands running on the host.
        await work.close('session_closed');
        await registry.closeAll();
        await server.close();
      })();
      return closing;
    },
  };
}
