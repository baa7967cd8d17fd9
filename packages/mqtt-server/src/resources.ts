/**
 * MQTT topics as MCP resources: `mqtt://{connection}/{+topic}` is the last message seen on a topic of
 * one of the caller's connections (a retained message counts once it is delivered on subscribe).
 * `resources/list` shows the topics seen; `resources/read` gives the message and its metadata;
 * subscribing (`resources/subscribe` in 2025-11-25, `subscriptions/listen` with
 * `resourceSubscriptions` in 2026-07-28) sends `notifications/resources/updated` as messages arrive.
 */
import { type McpServer, ResourceNotFoundError, ResourceTemplate } from '@modelcontextprotocol/server';
import type { ReceivedMessage } from './message-buffer.js';
import type { MqttState } from './state.js';

export const TOPIC_URI_TEMPLATE = 'mqtt://{connection}/{+topic}';

/** The URI of `topic` on `connection`; each level is percent-encoded, the '/' between levels kept. */
export function topicUri(connection: string, topic: string): string {
  return `mqtt://${encodeURIComponent(connection)}/${topic.split('/').map(encodeURIComponent).join('/')}`;
}

/** The connection and topic a topic URI names, or undefined. */
export function parseTopicUri(uri: string): { connection: string; topic: string } | undefined {
  const match = /^mqtt:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (match === null) return undefined;
  try {
    const connection = decodeURIComponent(match[1] ?? '');
    const topic = (match[2] ?? '').split('/').map(decodeURIComponent).join('/');
    return { connection, topic };
  } catch {
    return undefined;
  }
}

function contents(uri: string, message: ReceivedMessage) {
  const meta = {
    connection: message.connection,
    topic: message.topic,
    qos: message.qos,
    retain: message.retain,
    seq: message.seq,
    receivedAt: message.receivedAt,
    ...(message.properties === undefined ? {} : { properties: message.properties }),
  };
  return message.payloadEncoding === 'base64'
    ? { uri, blob: message.payload, mimeType: 'application/octet-stream', _meta: meta }
    : { uri, text: message.payload, mimeType: message.properties?.contentType ?? 'text/plain', _meta: meta };
}

export function registerTopicResources(server: McpServer, state: MqttState): void {
  server.registerResource(
    'mqtt-topic',
    new ResourceTemplate(TOPIC_URI_TEMPLATE, {
      list: async () => ({
        resources: state.topics().map(({ connection, message }) => ({
          uri: topicUri(connection, message.topic),
          name: message.topic,
          description: `Last message on '${message.topic}' (connection '${connection}')`,
        })),
      }),
    }),
    {
      description:
        'The last message seen on an MQTT topic of one of your connections (subscribe first). Subscribe to ' +
        'the resource to be told when a new message arrives.',
    },
    async (uri) => {
      const parsed = parseTopicUri(uri.href);
      const message = parsed === undefined ? undefined : state.lastMessage(parsed.connection, parsed.topic);
      if (message === undefined) throw new ResourceNotFoundError(uri.href);
      return { contents: [contents(uri.href, message)] };
    },
  );
}
