/**
 * A real upstream for the gateway's own tests: an SDK McpServer per session, hosted over Streamable
 * HTTP by @bastion/mcp-http, with tools shaped like the MQTT and SSH servers' (their inputSchemas,
 * defaults included, made by the SDK from zod as the servers make theirs), and a gateway in front of
 * it with real SDK clients connected in memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type McpHttpHost, startMcpHttpHost } from '@bastion/mcp-http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { z } from 'zod';
import { resolveConfig } from '../src/config.js';
import { createGateway, type Gateway } from '../src/gateway.js';

const silent = pino({ level: 'silent' });
const hints = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const echo = (args: unknown): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(args) }] });

/** The upstream's tools. `push` sends MQTT-message-shaped logging notifications, as bastion-mqtt does. */
function createUpstream(): McpServer {
  const server = new McpServer(
    { name: 'test-upstream', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );
  server.registerTool(
    'connect',
    {
      description: 'SSH connect, with the port default of bastion-ssh.',
      inputSchema: {
        host: z.string(),
        port: z.number().int().default(22),
        username: z.string(),
        password: z.string().optional(),
        options: z.object({ keepalive: z.number().default(30) }).default({ keepalive: 30 }),
      },
      annotations: hints,
    },
    (args) => echo(args),
  );
  server.registerTool(
    'exec',
    {
      description: "bastion-ssh's exec: stdin may carry a sudo password.",
      inputSchema: {
        connectionId: z.string(),
        command: z.string(),
        cwd: z.string().optional(),
        stdin: z.string().optional(),
        env: z.record(z.string(), z.string()).optional(),
        vault: z.object({ code: z.string().meta({ 'x-secret': true }) }).optional(),
      },
      annotations: hints,
    },
    ({ stdin }) => {
      // McpServer passes this code on as a JSON-RPC error (any other error becomes an isError result).
      throw new McpError(ErrorCode.UrlElicitationRequired, `sudo: incorrect password ${stdin?.trim()}`, {
        elicitations: [],
      });
    },
  );
  server.registerTool(
    'mqttReadMessages',
    {
      description: 'Reads buffered messages.',
      inputSchema: { topic: z.string().optional() },
      annotations: hints,
    },
    (args) => echo(args),
  );
  server.registerTool(
    'push',
    {
      description: 'Pushes one notifications/message per topic, then a plain log line.',
      inputSchema: { topics: z.array(z.string()) },
      annotations: hints,
    },
    async ({ topics }, extra) => {
      for (const topic of topics) {
        await server.sendLoggingMessage(
          { level: 'info', logger: 'mqtt', data: { connection: 'default', topic, payload: `on ${topic}` } },
          extra.sessionId,
        );
      }
      await server.sendLoggingMessage({ level: 'info', logger: 'app', data: 'pushed' }, extra.sessionId);
      return echo({ pushed: topics.length });
    },
  );
  return server;
}

export interface TestUpstream {
  host: McpHttpHost;
  url: string;
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<TestUpstream> {
  const host = await startMcpHttpHost({
    name: 'test-upstream',
    logger: silent,
    port: 0,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = createUpstream();
          await server.connect(transport);
          return { close: () => server.close() };
        },
      },
    ],
  });
  return { host, url: `${host.url}/mcp`, stop: () => host.close() };
}

export interface TestGateway {
  gateway: Gateway;
  dir: string;
  connect(): Promise<{ client: Client; messages: unknown[] }>;
  close(): Promise<void>;
}

/** A gateway in front of `upstream` with `policy`; `audit` is the config's audit entry, in `dir`. */
export async function startTestGateway(
  upstream: TestUpstream,
  policy: unknown,
  audit?: (dir: string) => unknown,
): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-own-'));
  const document = {
    servers: { up: { transport: 'http', url: upstream.url, policy } },
    anonymous: { servers: ['up'] },
    ...(audit === undefined ? {} : { audit: audit(dir) }),
  };
  const gateway = await createGateway({
    config: resolveConfig(document, { baseDir: dir }),
    logger: silent,
    watchPolicies: false,
  });
  const clients: Client[] = [];
  let n = 0;
  return {
    gateway,
    dir,
    async connect() {
      const [agentSide, gatewaySide] = InMemoryTransport.createLinkedPair();
      await gateway.openSession('up', gatewaySide, {
        sessionId: `t-${++n}`,
        principal: { id: 'anonymous', kind: 'anonymous' },
        closeOnInitializeFailure: true,
      });
      const client = new Client({ name: 'test-agent', version: '1.0.0' });
      const messages: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (m) => {
        messages.push(m.params.data);
      });
      await client.connect(agentSide);
      clients.push(client);
      return { client, messages };
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}
