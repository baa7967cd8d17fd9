import { bearerTokenAuthenticator, type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import type { Logger } from 'pino';
import type { SshServerConfig } from './config.js';
import { createSshServer, SERVER_NAME, type SshServerShared } from './server.js';

/**
 * Serves the SSH server over HTTP: Streamable HTTP at `/mcp` and legacy SSE (`GET /sse`,
 * `POST /messages?sessionId=`) on one port, through @bastion/mcp-http (Host/Origin checks, bearer
 * token, body limit). Each MCP session gets its own McpServer and connections, closed with it.
 */
export function startSshHttpServer(
  config: SshServerConfig,
  deps: { logger: Logger; shared: SshServerShared },
): Promise<McpHttpHost> {
  return startMcpHttpHost({
    name: SERVER_NAME,
    logger: deps.logger,
    host: config.host,
    port: config.port,
    // An upload carries its content base64-encoded in JSON: allow for that and the envelope.
    maxBodyBytes: Math.ceil((config.maxFileBytes * 4) / 3) + 64 * 1024,
    ...(config.authToken === undefined ? {} : { authenticate: bearerTokenAuthenticator(config.authToken) }),
    ...(config.allowedOrigins === undefined ? {} : { allowedOrigins: config.allowedOrigins }),
    endpoints: [
      {
        streamablePath: '/mcp',
        sse: { streamPath: '/sse', messagePath: '/messages' },
        async openSession(transport, info) {
          const session = createSshServer(config, { ...deps, sessionId: info.sessionId });
          await session.server.connect(transport);
          deps.logger.debug({ sessionId: info.sessionId, transport: info.transport }, 'session opened');
          return session;
        },
      },
    ],
  });
}
