import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { brokerAllowed } from '../config.js';
import type { BrokerProtocol, ConnectRequest } from '../connection.js';
import { MqttErrorCode, MqttToolError } from '../errors.js';
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

export const MQTT_CONNECT = 'mqttConnect';

/** The original's description, kept verbatim so that clients and policies written for it still match. */
const description = 'Connects to an MQTT broker with the specified parameters.';

const inputSchema = {
  // The original's five fields, names and types unchanged.
  host: z.string().min(1).describe('Broker host name or IP address'),
  port: z
    .number()
    .min(1)
    .max(65_535)
    .refine(Number.isInteger, 'port must be a whole number')
    .describe('Broker port, e.g. 1883 (mqtt), 8883 (mqtts)'),
  clientId: z.string().describe('MQTT client identifier'),
  username: z.string().optional().describe('User name, if the broker requires one'),
  password: z.string().optional().describe('Password; never echoed in results or logs'),
  // Extensions.
  connection: connectionSchema,
  protocol: z
    .enum(['mqtt', 'mqtts', 'ws', 'wss'])
    .optional()
    .describe("Transport; default 'mqtts' on port 8883, otherwise 'mqtt' (as the original)"),
  protocolVersion: z.literal([4, 5]).default(4).describe('MQTT protocol version: 4 (3.1.1, default) or 5'),
  clean: z.boolean().default(true).describe('Start a clean session (false resumes a persistent one)'),
  keepalive: z
    .number()
    .min(0)
    .max(65_535)
    .refine(Number.isInteger, 'keepalive must be whole seconds')
    .default(60)
    .describe('Keep-alive interval in seconds (0 disables)'),
  connectTimeoutMs: z
    .number()
    .min(100)
    .max(120_000)
    .default(10_000)
    .describe('Give up connecting after this many milliseconds (default 10000)'),
  path: z
    .string()
    .regex(/^\//, 'path starts with /')
    .optional()
    .describe("WebSocket path for ws/wss (default '/mqtt')"),
  will: z
    .object({
      topic: topicNameSchema,
      payload: z.string(),
      payloadEncoding: payloadEncodingSchema,
      qos: qosSchema,
      retain: z.boolean().default(false),
    })
    .optional()
    .describe('Last-will message the broker publishes if this client disappears without disconnecting'),
  ca: z.string().optional().describe('PEM CA certificate(s) to trust for mqtts/wss'),
  cert: z.string().optional().describe('PEM client certificate for mutual TLS'),
  key: z.string().optional().describe('PEM private key of the client certificate; never echoed'),
  rejectUnauthorized: z
    .boolean()
    .default(true)
    .describe('Verify the broker certificate (default true; false accepts any certificate)'),
};

export function registerMqttConnectTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_CONNECT,
    {
      description,
      inputSchema: z.object(inputSchema),
      annotations: {
        title: 'Connect to an MQTT broker',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args, call) =>
      runTool(ctx, MQTT_CONNECT, async () => {
        const protocol: BrokerProtocol = args.protocol ?? (args.port === 8883 ? 'mqtts' : 'mqtt');
        const secure = protocol === 'mqtts' || protocol === 'wss';
        if (!secure && (args.ca !== undefined || args.cert !== undefined || args.key !== undefined)) {
          throw invalidInput(`ca, cert and key apply to protocol 'mqtts' or 'wss', not '${protocol}'`);
        }
        if (args.password !== undefined && args.username === undefined && args.protocolVersion === 4) {
          // [MQTT-3.1.2-22] in 3.1.1 a password needs a user name; MQTT 5 allows it alone.
          throw invalidInput('a password needs a username with protocolVersion 4 (MQTT 3.1.1)');
        }
        if ((args.cert === undefined) !== (args.key === undefined)) {
          throw invalidInput('cert and key must be given together');
        }
        if (args.path !== undefined && protocol !== 'ws' && protocol !== 'wss') {
          throw invalidInput(`path applies to protocol 'ws' or 'wss', not '${protocol}'`);
        }
        if (!brokerAllowed(ctx.config.allowBrokers, args.host, args.port)) {
          throw new MqttToolError(
            MqttErrorCode.BrokerNotAllowed,
            `Broker ${args.host}:${args.port} is not allowed by this server (--allow-brokers)`,
            { details: { connection: args.connection, host: args.host, port: args.port } },
          );
        }
        const request: ConnectRequest = {
          name: args.connection,
          host: args.host,
          port: args.port,
          clientId: args.clientId,
          username: args.username,
          password: args.password,
          protocol,
          protocolVersion: args.protocolVersion,
          clean: args.clean,
          keepalive: args.keepalive,
          connectTimeoutMs: args.connectTimeoutMs,
          path: args.path,
        };
        if (args.will !== undefined) {
          const payload = decodePayload(args.will.payload, args.will.payloadEncoding);
          if (payload === undefined) throw invalidInput('will.payload is not valid base64');
          if (payload.length > ctx.config.maxPayloadBytes) {
            throw invalidInput(
              `will.payload is ${payload.length} bytes; the limit is ${ctx.config.maxPayloadBytes}`,
            );
          }
          request.will = { topic: args.will.topic, payload, qos: args.will.qos, retain: args.will.retain };
        }
        if (secure) {
          request.tls = { rejectUnauthorized: args.rejectUnauthorized };
          if (args.ca !== undefined) request.tls.ca = args.ca;
          if (args.cert !== undefined) request.tls.cert = args.cert;
          if (args.key !== undefined) request.tls.key = args.key;
        }
        const log = {
          connection: args.connection,
          host: args.host,
          port: args.port,
          protocol,
          clientId: args.clientId,
        };
        let result: Awaited<ReturnType<typeof ctx.connections.open>>;
        try {
          result = await ctx.connections.open(request, call.mcpReq.signal);
        } catch (err) {
          if (err instanceof MqttToolError)
            ctx.logger.info({ ...log, code: err.code }, 'broker connect failed');
          throw err;
        }
        ctx.logger.info({ ...log, replaced: result.replaced }, 'broker connected');
        const structured: Record<string, unknown> = {
          connection: args.connection,
          host: args.host,
          port: args.port,
          clientId: args.clientId,
          protocol,
          protocolVersion: args.protocolVersion,
          replaced: result.replaced,
        };
        // The original's text stays the first content item, unchanged, for clients that match it.
        const connected = success(
          `Successfully connected to MQTT broker at ${args.host}:${args.port} with client ID ${args.clientId}`,
          structured,
        );
        if (result.previous === undefined) return connected;
        const old = result.previous;
        structured.previous = old;
        connected.content.push({
          type: 'text',
          text:
            `It replaced the previous connection '${args.connection}' (${old.host}:${old.port}, client ID ` +
            `${old.clientId}, ${old.state}), which is now closed.`,
        });
        return connected;
      }),
  );
}
