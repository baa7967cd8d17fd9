/**
 * One MCP server for one MCP session: the seven MQTT tools over that session's own broker
 * connections. Received messages are also pushed to the client as MCP logging notifications.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';
import { type MqttServerConfig, type MqttServerOptions, parseConfig } from './config.js';
import { ConnectionRegistry } from './connections.js';
import type { ReceivedMessage } from './message-buffer.js';
import type { ToolContext } from './tools/context.js';
import { registerMqttConnectTool } from './tools/mqtt-connect.js';
import { registerMqttDisconnectTool } from './tools/mqtt-disconnect.js';
import { registerMqttPublishTool } from './tools/mqtt-publish.js';
import { registerMqttReadMessagesTool } from './tools/mqtt-read-messages.js';
import { registerMqttStatusTool } from './tools/mqtt-status.js';
import { registerMqttSubscribeTool } from './tools/mqtt-subscribe.js';
import { registerMqttUnsubscribeTool } from './tools/mqtt-unsubscribe.js';

/** The MQTTX SSE Server's serverInfo name, kept so that clients see the server they were set up for. */
export const SERVER_NAME = 'mqtt-server';
export const SERVER_VERSION = '0.1.0';

export interface MqttServerDeps {
  logger: Logger;
}

export interface MqttServerSession {
  server: McpServer;
  /** Closes every broker connection of the session, then the MCP server. Idempotent. */
  close(): Promise<void>;
}

/** The `data` of the `notifications/message` (level `info`, logger `mqtt`) sent per received message. */
export type MessageNotificationData = ReceivedMessage;

/**
 * Creates the MCP server for one session. Connect it to exactly one transport; closing that
 * transport (the session ending) closes every broker connection it opened.
 */
export function createMqttServer(
  options: MqttServerConfig | MqttServerOptions,
  deps: MqttServerDeps,
): MqttServerSession {
  const config = parseConfig(options as MqttServerOptions);
  const logger = deps.logger;
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { logging: {}, tools: {} },
      instructions:
        'Connect with mqttConnect, subscribe with mqttSubscribe, then read what arrived with ' +
        'mqttReadMessages (waitMs waits for the next message). Received messages are also sent as ' +
        'logging notifications. Connections are named (default "default") and belong to this session.',
    },
  );

  const notify = (message: ReceivedMessage) => {
    const data: MessageNotificationData = message;
    // The session id scopes the client's logging/setLevel choice (the SDK keys it by session).
    server.server
      .sendLoggingMessage({ level: 'info', logger: 'mqtt', data }, server.server.transport?.sessionId)
      .catch(() => {
        // The client went away; the message stays buffered for mqttReadMessages.
      });
  };

  const connections = new ConnectionRegistry({
    maxConnections: config.maxConnectionsPerSession,
    maxBufferedMessages: config.maxBufferedMessages,
    operationTimeoutMs: config.operationTimeoutMs,
    reconnectInitialDelayMs: config.reconnectInitialDelayMs,
    reconnectMaxDelayMs: config.reconnectMaxDelayMs,
    logger,
    onMessage: notify,
  });

  const ctx: ToolContext = { config, connections, logger };
  registerMqttConnectTool(server, ctx);
  registerMqttSubscribeTool(server, ctx);
  registerMqttPublishTool(server, ctx);
  registerMqttDisconnectTool(server, ctx);
  registerMqttUnsubscribeTool(server, ctx);
  registerMqttReadMessagesTool(server, ctx);
  registerMqttStatusTool(server, ctx);

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      await connections.closeAll();
      await server.close();
    })();
    return closed;
  };
  // The transport closing (stdio EOF, HTTP session deleted, SSE stream gone) ends the session.
  server.server.onclose = () => void close();
  return { server, close };
}
