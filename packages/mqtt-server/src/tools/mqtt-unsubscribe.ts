import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { connectionSchema, runTool, success, type ToolContext, topicFilterSchema } from './context.js';

export const MQTT_UNSUBSCRIBE = 'mqttUnsubscribe';

const inputSchema = {
  topic: topicFilterSchema.describe('The topic or topic filter exactly as it was subscribed'),
  connection: connectionSchema,
};

export function registerMqttUnsubscribeTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_UNSUBSCRIBE,
    {
      description:
        'Unsubscribes from the specified MQTT topic. Messages already buffered stay readable with mqttReadMessages.',
      inputSchema: z.object(inputSchema),
      annotations: {
        title: 'Unsubscribe from an MQTT topic',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      },
    },
    ({ topic, connection }) =>
      runTool(ctx, MQTT_UNSUBSCRIBE, async () => {
        const { wasSubscribed } = await ctx.connections.get(connection).unsubscribe(topic);
        return success(`Successfully unsubscribed from MQTT topic '${topic}'`, {
          connection,
          topic,
          wasSubscribed,
        });
      }),
  );
}
