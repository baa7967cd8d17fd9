/**
 * HTTP mode: one port serving Streamable HTTP at `/mcp` and the MQTTX SSE Server's legacy endpoints
 * (`GET /mqttx/sse`, `POST /mqttx/message?sessionId=`), one MCP server per session. Host/Origin
 * checks, the bearer token and the body limit come from @bastion/mcp-http.
 */
import { bearerTokenAuthenticator, type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import type { Logger } from 'pino';
import { type MqttServerConfig, type MqttServerOptions, parseConfig } from './config.js';
import { createMqttServer } from './server.js';

export const STREAMABLE_PATH = '/mcp';
/** The paths MQTTX is configured with (`http://localhost:4000/mqttx/sse`). */
export const SSE_PATHS = { streamPath: '/mqttx/sse', messagePath: '/mqttx/message' } as const;

export async function startMqttHttpServer(
  options: MqttServerConfig | MqttServerOptions,
  deps: { logger: Logger },
): Promise<McpHttpHost> {
  const config = parseConfig(options as MqttServerOptions);
  const { logger } = deps;
  return startMcpHttpHost({
    name: 'bastion-mqtt',
    logger,
    host: config.host,
    port: config.port,
    ...(config.authToken === undefined ? {} : { authenticate: bearerTokenAuthenticator(config.authToken) }),
    ...(config.allowedHosts === undefined ? {} : { allowedHosts: config.allowedHosts }),
    ...(config.allowedOrigins === undefined ? {} : { allowedOrigins: config.allowedOrigins }),
    // Room for the largest payload, base64-encoded, inside a JSON-RPC request.
    maxBodyBytes: Math.ceil((config.maxPayloadBytes * 4) / 3) + 64 * 1024,
    endpoints: [
      {
        streamablePath: STREAMABLE_PATH,
        sse: SSE_PATHS,
        async openSession(transport, info) {
          const session = createMqttServer(config, {
            logger: logger.child({ session: info.sessionId, transport: info.transport }),
          });
          await session.server.connect(transport);
          return { close: session.close };
        },
      },
    ],
  });
}
