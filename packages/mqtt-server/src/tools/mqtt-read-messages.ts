import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import {
  connectionSchema,
  invalidInput,
  jsonResult,
  runTool,
  type ToolContext,
  topicFilterSchema,
} from './context.js';

export const MQTT_READ_MESSAGES = 'mqttReadMessages';

const inputSchema = {
  connection: connectionSchema,
  topic: topicFilterSchema
    .optional()
    .describe('Only messages whose topic matches this filter (wildcards allowed)'),
  limit: z
    .number()
    .min(1)
    .max(1000)
    .refine(Number.isInteger, 'limit must be a whole number')
    .default(100)
    .describe('Most messages to return (default 100)'),
  waitMs: z
    .number()
    .min(0)
    .default(0)
    .describe('If no matching message is buffered, wait up to this many milliseconds for one (default 0)'),
};

export function registerMqttReadMessagesTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_READ_MESSAGES,
    {
      description:
        'Returns and removes buffered messages received on subscribed topics, oldest first. ' +
        'Payloads that are not UTF-8 text come base64-encoded with payloadEncoding "base64". ' +
        '`dropped` counts messages lost to the bounded buffer since the previous read.',
      inputSchema: z.object(inputSchema),
      annotations: {
        title: 'Read received MQTT messages',
        // Consumes this session's local buffer only; nothing on the broker or a device changes.
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    ({ connection, topic, limit, waitMs }, call) =>
      runTool(ctx, MQTT_READ_MESSAGES, async () => {
        if (waitMs > ctx.config.maxWaitMs) {
          throw invalidInput(`waitMs is ${waitMs}; at most ${ctx.config.maxWaitMs} is allowed`);
        }
        const conn = ctx.connections.get(connection);
        await conn.waitForMessage(topic, waitMs, call.mcpReq.signal);
        const { messages, remaining, dropped } = conn.read(topic, limit);
        return jsonResult({ connection, messages, remaining, dropped });
      }),
  );
}
