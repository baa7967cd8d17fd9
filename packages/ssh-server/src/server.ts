/**
 * One MCP session of the SSH server: an McpServer with the six tools and the session's own
 * connection registry. HTTP hosting (http.ts) and stdio (bin.ts) create one per session and share
 * the host-key policy, so a key trusted on first use binds every session for the server's lifetime.
 */
import { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { SshServerConfig } from './config.js';
import { ConnectionRegistry } from './connections.js';
import { HostKeyPolicy, KnownHosts } from './host-keys.js';
import { createLocalFiles, type LocalFiles } from './local-files.js';
import { registerConnectTool } from './tools/connect.js';
import type { ToolContext } from './tools/context.js';
import { registerDisconnectTool } from './tools/disconnect.js';
import { registerDownloadFileTool } from './tools/download-file.js';
import { registerExecTool } from './tools/exec.js';
import { registerListConnectionsTool } from './tools/list-connections.js';
import { registerUploadFileTool } from './tools/upload-file.js';

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
  /** Closes every SSH connection of the session, then the MCP server. Idempotent. */
  close(): Promise<void>;
}

const INSTRUCTIONS =
  'SSH access: connect (host key verified), then exec commands, uploadFile/downloadFile over SFTP, ' +
  'listConnections, disconnect. Secrets you pass are kept in memory only and never returned. ' +
  'Connections belong to you alone (your session, or your identity when you send no session).';

/**
 * What one client of this server holds: its SSH connections. A 2025-era MCP session owns one; in
 * the stateless 2026 era a caller identity owns one (closed when the identity is idle); over stdio
 * the process owns one.
 */
export function createSshState(config: SshServerConfig, deps: SshServerDeps): ToolContext {
  const log = deps.sessionId === undefined ? deps.logger : deps.logger.child({ sessionId: deps.sessionId });
  return {
    config,
    registry: new ConnectionRegistry({ maxConnections: config.maxConnectionsPerSession }, log),
    hostKeys: deps.shared.hostKeys,
    localFiles: deps.shared.localFiles,
    log,
  };
}

/** A fresh MCP server over one client's state: built per session, or per request in the 2026 era. */
export function buildSshMcpServer(ctx: ToolContext): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    { capabilities: { tools: {}, logging: {} }, instructions: INSTRUCTIONS },
  );
  registerConnectTool(server, ctx);
  registerExecTool(server, ctx);
  registerDisconnectTool(server, ctx);
  registerListConnectionsTool(server, ctx);
  registerUploadFileTool(server, ctx);
  registerDownloadFileTool(server, ctx);
  return server;
}

/** The MCP server of one 2025-era session, with connections of its own. */
export function createSshServer(config: SshServerConfig, deps: SshServerDeps): SshServerSession {
  const ctx = createSshState(config, deps);
  const server = buildSshMcpServer(ctx);
  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= (async () => {
        await ctx.registry.closeAll();
        await server.close();
      })();
      return closing;
    },
  };
}
