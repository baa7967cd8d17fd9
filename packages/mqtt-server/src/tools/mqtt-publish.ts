import type { McpServer } from '@modelcontextprotocol/server';
import type { IClientPublishOptions } from 'mqtt';
import { z } from 'zod';
import { decodePayload } from '../payload.js';
import {
  connectionSchema,
  invalidInput,
  payloadEncodingSchema,
  qosSchema,
  runTool,
  success,
  type ToolContext,
  topicNameSchema,
} from './context.js';

export const MQTT_PUBLISH = 'mqttPublish';

/** The original's description, verbatim. */
const description = 'Publishes a message to the specified MQTT topic.';

const propertiesSchema = z
  .object({
    userProperties: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .optional()
      .describe('MQTT 5 user properties, name -> value (or list of values)'),
    contentType: z.string().optional().describe('MQTT 5 content type, e.g. application/json'),
    responseTopic: topicNameSchema.optional().describe('MQTT 5 response topic for request/response'),
    correlationData: z.string().optional().describe('MQTT 5 correlation data for request/response'),
    correlationDataEncoding: payloadEncodingSchema.describe(
      "How correlationData is written: 'utf8' or 'base64'",
    ),
    messageExpiryInterval: z
      .number()
      .min(0)
      .max(4_294_967_295)
      .refine(Number.isInteger, 'whole seconds')
      .optional()
      .describe('MQTT 5 message expiry interval in seconds'),
    payloadFormatIndicator: z.boolean().optional().describe('MQTT 5: true marks the payload as UTF-8 text'),
  })
  .describe('MQTT 5 publish properties (the connection must use protocolVersion 5)');

const inputSchema = {
  topic: topicNameSchema.describe('Topic to publish to (no wildcards)'),
  payload: z.string().describe('Message payload'),
  qos: qosSchema.describe('Quality of service: 0, 1 or 2 (default 0)'),
  retain: z.boolean().default(false).describe('Ask the broker to retain the message (default false)'),
  connection: connectionSchema,
  payloadEncoding: payloadEncodingSchema,
  properties: propertiesSchema.optional(),
};

export function registerMqttPublishTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_PUBLISH,
    {
      description,
      inputSchema: z.object(inputSchema),
      annotations: {
        title: 'Publish an MQTT message',
        readOnlyHint: false,
        // A publish can switch a device or overwrite a retained value.
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    ({ topic, payload, qos, retain, connection, payloadEncoding, properties }) =>
      runTool(ctx, MQTT_PUBLISH, async () => {
        const bytes = decodePayload(payload, payloadEncoding);
        if (bytes === undefined) throw invalidInput('payload is not valid base64', { field: 'payload' });
        if (bytes.length > ctx.config.maxPayloadBytes) {
          throw invalidInput(`payload is ${bytes.length} bytes; the limit is ${ctx.config.maxPayloadBytes}`, {
            field: 'payload',
          });
        }
        const conn = ctx.connections.get(connection);
        let mqttProperties: IClientPublishOptions['properties'];
        if (properties !== undefined) {
          if (conn.protocolVersion !== 5) {
            throw invalidInput(
              `properties need MQTT 5; connection '${connection}' uses protocolVersion ${conn.protocolVersion}`,
              { field: 'properties' },
            );
          }
          mqttProperties = {};
          if (properties.userProperties !== undefined)
            mqttProperties.userProperties = properties.userProperties;
          if (properties.contentType !== undefined) mqttProperties.contentType = properties.contentType;
          if (properties.responseTopic !== undefined) mqttProperties.responseTopic = properties.responseTopic;
          if (properties.correlationData !== undefined) {
            const data = decodePayload(properties.correlationData, properties.correlationDataEncoding);
            if (data === undefined)
              throw invalidInput('properties.correlationData is not valid base64', {
                field: 'properties.correlationData',
              });
            mqttProperties.correlationData = data;
          }
          if (properties.messageExpiryInterval !== undefined) {
            mqttProperties.messageExpiryInterval = properties.messageExpiryInterval;
          }
          if (properties.payloadFormatIndicator !== undefined) {
            mqttProperties.payloadFormatIndicator = properties.payloadFormatIndicator;
          }
        }
        await conn.publish(topic, bytes, { qos, retain, properties: mqttProperties });
        return success(
          `Successfully published message to MQTT topic '${topic}' with QoS ${qos}, retain: ${retain}`,
          {
            connection,
            topic,
            qos,
            retain,
            bytes: bytes.length,
          },
        );
      }),
  );
}
