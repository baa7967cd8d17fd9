import {
  LegacyTaskTransport,
  type McpHttpHost,
  ModernTasks,
  type Principal,
  sdkModernIdentity,
  startMcpHttpHost,
  type TaskToolsOptions,
  tokenAuthenticator,
} from '@bastion/mcp-http';
import { createMcpHandler } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { SshServerConfig } from './config.js';
import {
  buildSshMcpServer,
  closeSshState,
  createSshServer,
  createSshState,
  SERVER_NAME,
  type SshServerShared,
  TASK_TOOLS,
} from './server.js';

/** How exec runs as an MCP task (@bastion/mcp-http tasks/), from the server's flags. */
export function taskOptionsOf(config: SshServerConfig): TaskToolsOptions {
  return {
    tools: TASK_TOOLS,
    maxTasks: config.maxTasks,
    ttlMs: config.taskTtlMs,
    pollIntervalMs: config.taskPollIntervalMs,
  };
}

/**
 * Serves the SSH server over HTTP: `/mcp` in both protocol eras and legacy SSE (`GET /sse`,
 * `POST /messages?sessionId=`) on one port, through @bastion/mcp-http (Host/Origin checks, bearer
 * tokens, body limit). A 2025-era session has its own connections, closed with it; a 2026-era
 * caller's connections belong to its identity and close when it has been idle.
 */
export function startSshHttpServer(
  config: SshServerConfig,
  deps: { logger: Logger; shared: SshServerShared },
): Promise<McpHttpHost> {
  const taskOptions = taskOptionsOf(config);
  return startMcpHttpHost({
    name: SERVER_NAME,
    logger: deps.logger,
    host: config.host,
    port: config.port,
    // An upload carries its content base64-encoded in JSON: allow for that and the envelope.
    maxBodyBytes: Math.ceil((config.maxFileBytes * 4) / 3) + 64 * 1024,
    ...(config.authToken === undefined
      ? {}
      : {
          authenticate: tokenAuthenticator(config.authToken, {
            ...(config.identityHeader === undefined ? {} : { identityHeader: config.identityHeader }),
          }),
        }),
    ...(config.allowedHosts === undefined ? {} : { allowedHosts: config.allowedHosts }),
    ...(config.allowedOrigins === undefined ? {} : { allowedOrigins: config.allowedOrigins }),
    idleSessionTimeoutMs: config.sessionIdleTimeoutMs,
    idleIdentityTimeoutMs: config.identityIdleTimeoutMs,
    endpoints: [
      {
        streamablePath: '/mcp',
        sse: { streamPath: '/sse', messagePath: '/messages' },
        async openSession(transport, info) {
          const session = createSshServer(config, { ...deps, sessionId: info.sessionId }, { legacy: true });
          // Tasks are served between the session's transport and its McpServer (tasks/legacy.ts).
          await session.server.connect(new LegacyTaskTransport(transport, taskOptions));
          deps.logger.debug({ sessionId: info.sessionId, transport: info.transport }, 'session opened');
          return session;
        },
        async openIdentity(principal: Principal) {
          const ctx = createSshState(config, {
            logger: deps.logger.child({ identity: principal.id }),
            shared: deps.shared,
          });
          const tasks = new ModernTasks({ ...taskOptions, afterMs: config.taskAfterMs });
          const handler = createMcpHandler(() => buildSshMcpServer(ctx, { modern: tasks }), {
            legacy: 'reject',
          });
          return sdkModernIdentity(handler, principal, () => closeSshState(ctx, 'identity_expired'), tasks);
        },
      },
    ],
  });
}
