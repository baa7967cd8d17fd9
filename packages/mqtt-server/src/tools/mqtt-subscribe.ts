import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import {
  connectionSchema,
  qosSchema,
  runTool,
  success,
  type ToolContext,
  topicFilterSchema,
} from './context.js';

export const MQTT_SUBSCRIBE = 'mqttSubscribe';

/** The original's description, verbatim. */
const description = 'Subscribes to the specified MQTT topic.';

const inputSchema = {
  topic: topicFilterSchema.describe("Topic or topic filter; '+' matches one level, a final '#' any number"),
  qos: qosSchema.describe('Quality of service: 0, 1 or 2 (default 0)'),
  connection: connectionSchema,
};

export function registerMqttSubscribeTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_SUBSCRIBE,
    {
      description,
      inputSchema: z.object(inputSchema),
      annotations: {
        title: 'Subscribe to an MQTT topic',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      },
    },
    ({ topic, qos, connection }) =>
      runTool(ctx, MQTT_SUBSCRIBE, async () => {
        const sub = await ctx.connections.get(connection).subscribe(topic, qos);
        return success(`Successfully subscribed to MQTT topic '${topic}' with QoS ${qos}`, {
          connection,
          topic,
          qos,
          grantedQos: sub.grantedQos,
        });
      }),
  );
}
