/**
 * The MQTTX SSE Server's tool contract (UPSTREAMS.md), as data a contract test checks any MCP
 * server against: the four tools' names, descriptions, fields and success texts, and the MCP
 * server it is pointed at (ours unless the environment names another).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { CONTRACT_ENV } from './env.js';
import type { TransportChoice } from './mcp-client.js';

export interface OriginalTool {
  description: string;
  required: string[];
  /** Field -> JSON Schema type. */
  fields: Record<string, string>;
}

export const ORIGINAL_TOOLS: Readonly<Record<string, OriginalTool>> = {
  mqttConnect: {
    description: 'Connects to an MQTT broker with the specified parameters.',
    required: ['clientId', 'host', 'port'],
    fields: { host: 'string', port: 'number', clientId: 'string', username: 'string', password: 'string' },
  },
  mqttSubscribe: {
    description: 'Subscribes to the specified MQTT topic.',
    required: ['topic'],
    fields: { topic: 'string', qos: 'number' },
  },
  mqttPublish: {
    description: 'Publishes a message to the specified MQTT topic.',
    required: ['payload', 'topic'],
    fields: { topic: 'string', payload: 'string', qos: 'number', retain: 'boolean' },
  },
  mqttDisconnect: {
    description: 'Disconnects from the currently connected MQTT broker.',
    required: [],
    fields: {},
  },
};

export const ORIGINAL_SERVER_NAME = 'mqtt-server';

export const successText = {
  connect: (host: string, port: number, clientId: string) =>
    `Successfully connected to MQTT broker at ${host}:${port} with client ID ${clientId}`,
  subscribe: (topic: string, qos: number) =>
    `Successfully subscribed to MQTT topic '${topic}' with QoS ${qos}`,
  publish: (topic: string, qos: number, retain: boolean) =>
    `Successfully published message to MQTT topic '${topic}' with QoS ${qos}, retain: ${retain}`,
  disconnect: () => 'Successfully disconnected from MQTT broker',
};

/** Bastion's additions; checked only on a server that lists them. */
export const EXTENSION_TOOLS = ['mqttUnsubscribe', 'mqttReadMessages', 'mqttStatus'] as const;

/** How a listed tool differs from the original's; empty when it matches. */
export function toolContractProblems(name: string, tool: Tool | undefined): string[] {
  const original = ORIGINAL_TOOLS[name];
  if (original === undefined) throw new Error(`${name} is not one of the original tools`);
  if (tool === undefined) return [`${name} is not listed`];
  const problems: string[] = [];
  if (tool.description !== original.description) {
    problems.push(
      `${name}: description is ${JSON.stringify(tool.description)}, not ${JSON.stringify(original.description)}`,
    );
  }
  const required = [...(tool.inputSchema.required ?? [])].sort();
  if (JSON.stringify(required) !== JSON.stringify(original.required)) {
    problems.push(
      `${name}: required fields are [${required.join(', ')}], not [${original.required.join(', ')}]`,
    );
  }
  const properties = (tool.inputSchema.properties ?? {}) as Record<string, { type?: unknown }>;
  for (const [field, type] of Object.entries(original.fields)) {
    const actual = properties[field]?.type;
    // "integer" would refuse a client that sends 1.0; the original declared "number".
    if (actual !== type) problems.push(`${name}.${field}: type is ${JSON.stringify(actual)}, not "${type}"`);
  }
  return problems;
}

export interface ExternalMqttServer {
  url: string;
  transport: TransportChoice;
  token: string | undefined;
}

/** The server named by the environment, or undefined to test our own. */
export function externalMqttServer(env: NodeJS.ProcessEnv): ExternalMqttServer | undefined {
  const url = env[CONTRACT_ENV.mqttServerUrl];
  if (url === undefined || url === '') return undefined;
  const transport = (env[CONTRACT_ENV.mqttServerTransport] ?? 'auto') as TransportChoice;
  if (!['auto', 'streamable', 'sse'].includes(transport)) {
    throw new Error(`${CONTRACT_ENV.mqttServerTransport}: expected auto, streamable or sse`);
  }
  return { url, transport, token: env[CONTRACT_ENV.mqttServerToken] };
}

/** The broker named by the environment (mqtt://host:port), or undefined for the harness's tiers. */
export function externalBroker(env: NodeJS.ProcessEnv): { host: string; port: number } | undefined {
  const value = env[CONTRACT_ENV.mqttBrokerUrl];
  if (value === undefined || value === '') return undefined;
  const url = new URL(value);
  if (url.protocol !== 'mqtt:' || url.port === '') {
    throw new Error(`${CONTRACT_ENV.mqttBrokerUrl}: expected mqtt://host:port, got ${value}`);
  }
  return { host: url.hostname, port: Number(url.port) };
}
