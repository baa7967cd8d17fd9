/**
 * HTTP mode: one port serving `/mcp` in both protocol eras and the MQTTX SSE Server's legacy
 * endpoints (`GET /mqttx/sse`, `POST /mqttx/message?sessionId=`), through @bastion/mcp-http (Host and
 * Origin checks, bearer tokens, body limits). A 2025-era session (Streamable HTTP or SSE) owns its
 * broker connections; a 2026-era caller's connections belong to its identity and expire when idle.
 */
import {
  type McpHttpHost,
  type Principal,
  sdkModernIdentity,
  startMcpHttpHost,
  tokenAuthenticator,
} from '@bastion/mcp-http';
import { createMcpHandler, InMemoryServerEventBus } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { type MqttServerConfig, type MqttServerOptions, parseConfig } from './config.js';
import { topicUri } from './resources.js';
import { attachLegacySession, buildMqttMcpServer } from './server.js';
import { MqttState } from './state.js';

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
    // Room for the largest payload, base64-encoded, inside a JSON-RPC request.
    maxBodyBytes: Math.ceil((config.maxPayloadBytes * 4) / 3) + 64 * 1024,
    endpoints: [
      {
        streamablePath: STREAMABLE_PATH,
        sse: SSE_PATHS,
        async openSession(transport, info) {
          const state = new MqttState(
            config,
            logger.child({ session: info.sessionId, transport: info.transport }),
          );
          const server = buildMqttMcpServer(state);
          attachLegacySession(server, state);
          await server.connect(transport);
          return {
            async close() {
              await state.close();
              await server.close();
            },
          };
        },
        async openIdentity(principal: Principal) {
          const state = new MqttState(config, logger.child({ identity: principal.id }));
          // One bus per identity: an update is only ever published to the identity's own streams.
          const bus = new InMemoryServerEventBus();
          state.addSink((message) =>
            bus.publish({ kind: 'resource_updated', uri: topicUri(message.connection, message.topic) }),
          );
          const handler = createMcpHandler(() => buildMqttMcpServer(state), { legacy: 'reject', bus });
          return sdkModernIdentity(handler, principal, () => state.close());
        },
      },
    ],
  });
}
