/**
 * The MQTT MCP server: the seven tools and the topic resources over one client's state (state.ts).
 * One factory serves both protocol eras; what differs is who owns the state and where received
 * messages go:
 *
 *   2025-11-25 session (HTTP or stdio)  state per session; messages as logging notifications (the
 *                                       MQTTX server pushed them too) and resources/updated for
 *                                       subscribed topics
 *   2026-07-28 (HTTP)                   state per caller identity; messages as resources/updated on the
 *                                       identity's subscriptions/listen streams (an event bus per
 *                                       identity, so no identity hears of another's topics)
 *   2026-07-28 (stdio)                  state per process; serveStdio routes resources/updated onto
 *                                       the connection's listen streams
 */
import { McpServer, type McpServer as McpServerType } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { type MqttServerConfig, type MqttServerOptions, parseConfig } from './config.js';
import type { ReceivedMessage } from './message-buffer.js';
import { registerTopicResources, topicUri } from './resources.js';
import { MqttState } from './state.js';
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
export const SERVER_VERSION = '0.2.0';

export interface MqttServerDeps {
  logger: Logger;
}

/** The `data` of the `notifications/message` (level `info`, logger `mqtt`) sent per received message. */
export type MessageNotificationData = ReceivedMessage;

const INSTRUCTIONS =
  'Connect with mqttConnect, subscribe with mqttSubscribe, then read what arrived with mqttReadMessages ' +
  '(waitMs waits for the next message). Each topic seen is also a resource mqtt://{connection}/{topic} ' +
  'holding its last message; subscribe to it to hear of new ones. Connections are named (default ' +
  '"default") and belong to you alone.';

/** A fresh MCP server over `state`: the tools and the topic resources. Cheap: built per request in the 2026 era. */
export function buildMqttMcpServer(state: MqttState): McpServerType {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { logging: {}, tools: {}, resources: { subscribe: true, listChanged: true } },
      instructions: INSTRUCTIONS,
    },
  );
  const ctx: ToolContext = { config: state.config, connections: state.connections, logger: state.logger };
  registerMqttConnectTool(server, ctx);
  registerMqttSubscribeTool(server, ctx);
  registerMqttPublishTool(server, ctx);
  registerMqttDisconnectTool(server, ctx);
  registerMqttUnsubscribeTool(server, ctx);
  registerMqttReadMessagesTool(server, ctx);
  registerMqttStatusTool(server, ctx);
  registerTopicResources(server, state);
  return server;
}

/**
 * Delivers messages to a 2025-era session: a logging notification per message, and
 * `notifications/resources/updated` for the topics it subscribed to with `resources/subscribe`.
 * Returns the removal of the sink.
 */
export function attachLegacySession(server: McpServerType, state: MqttState): () => void {
  const subscribed = new Set<string>();
  server.server.setRequestHandler('resources/subscribe', async (request) => {
    subscribed.add(request.params.uri);
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });
  const removeNotices = state.addNoticeSink((notice) => {
    server.server.sendLoggingMessage({ level: 'warning', logger: 'mqtt', data: notice }).catch(() => {});
  });
  const removeMessages = state.addSink((message) => {
    const data: MessageNotificationData = message;
    server.server.sendLoggingMessage({ level: 'info', logger: 'mqtt', data }).catch(() => {
      // The client went away; the message stays buffered for mqttReadMessages.
    });
    const uri = topicUri(message.connection, message.topic);
    if (subscribed.has(uri)) server.server.sendResourceUpdated({ uri }).catch(() => {});
  });
  return () => {
    removeNotices();
    removeMessages();
  };
}

export interface MqttServerSession {
  server: McpServerType;
  /** Closes every broker connection of the session, then the MCP server. Idempotent. */
  close(): Promise<void>;
}

/**
 * The MCP server for one 2025-era session with state of its own. Connect it to exactly one
 * transport; closing that transport (the session ending) closes every broker connection it opened.
 */
export function createMqttServer(
  options: MqttServerConfig | MqttServerOptions,
  deps: MqttServerDeps,
): MqttServerSession {
  const state = new MqttState(parseConfig(options as MqttServerOptions), deps.logger);
  const server = buildMqttMcpServer(state);
  attachLegacySession(server, state);
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      await state.close();
      await server.close();
    })();
    return closed;
  };
  // The transport closing (stdio EOF, HTTP session deleted, SSE stream gone) ends the session.
  server.server.onclose = () => void close();
  return { server, close };
}
