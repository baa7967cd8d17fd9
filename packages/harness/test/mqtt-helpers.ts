/**
 * What the tiered MQTT tests share: a real SDK client talking to a fresh MQTT server session, the
 * connect arguments for one of a target's listeners, and a poll that waits on behaviour.
 */
import {
  createMqttServer,
  type MqttServerOptions,
  type MqttServerSession,
  type ReceivedMessage,
} from '@bastion/mqtt-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { textOf } from '../src/suites/mcp-client.js';
import { waitFor } from '../src/suites/wait.js';
import type { MqttBrokerTarget, MqttListeners } from '../src/targets/mqtt/index.js';

export { textOf };

export const silentLogger = pino({ level: 'silent' });

export interface McpSession {
  client: Client;
  server: MqttServerSession;
  notifications: Array<{ level: string; logger?: string; data: unknown }>;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls and expects success; returns structuredContent. */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

export async function openMcpSession(options: MqttServerOptions = {}): Promise<McpSession> {
  const server = createMqttServer({ logLevel: 'silent', ...options }, { logger: silentLogger });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.server.connect(serverSide);
  const client = new Client({ name: 'harness', version: '1.0.0' });
  const notifications: McpSession['notifications'] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    notifications.push(n.params);
  });
  await client.connect(clientSide);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    server,
    notifications,
    call,
    async ok<T>(name: string, args: Record<string, unknown> = {}) {
      const result = await call(name, args);
      if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
      return result.structuredContent as T;
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

/** Opens sessions and closes all of them in one call (for afterEach). */
export function sessionPool() {
  const open: McpSession[] = [];
  return {
    async open(options: MqttServerOptions = {}) {
      const session = await openMcpSession(options);
      open.push(session);
      return session;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((s) => s.close()));
    },
  };
}

let clientCounter = 0;
/** A client id unique across the run, so sessions never take over each other's broker session. */
export function clientId(prefix: string): string {
  clientCounter++;
  return `${prefix}-${process.pid}-${clientCounter}`;
}

/** mqttConnect arguments for one of the target's listeners, with credentials or certificates it needs. */
export function connectArgs(
  target: MqttBrokerTarget,
  which: keyof MqttListeners = 'mqtt',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const l = target.listeners[which];
  if (l === undefined) throw new Error(`${target.implementation} has no ${which} listener`);
  const args: Record<string, unknown> = {
    host: l.host,
    port: l.port,
    clientId: clientId(which),
    protocol: l.protocol,
  };
  if (l.requiresPassword) Object.assign(args, target.credentials);
  if (l.protocol === 'mqtts' || l.protocol === 'wss') args.ca = target.tls?.ca;
  if (l.requiresClientCertificate)
    Object.assign(args, { cert: target.tls?.clientCert, key: target.tls?.clientKey });
  return { ...args, ...extra };
}

export interface ReadResult {
  connection: string;
  messages: ReceivedMessage[];
  remaining: number;
  dropped: number;
}

/** `waitFor` with room for broker round trips on a loaded machine (25 s). */
export function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  return waitFor(check, what, 25_000);
}
