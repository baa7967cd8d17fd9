/**
 * The MQTT server's transports against real brokers: the MQTTX client's configuration unchanged,
 * legacy SSE, Streamable HTTP, stdio, and the HTTP checks every Bastion server shares.
 */
import { request } from 'node:http';
import type { McpHttpHost } from '@bastion/mcp-http';
import { startMqttHttpServer } from '@bastion/mqtt-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../src/faults/tcp-proxy.js';
import { verifies } from '../src/requirements/index.js';
import { ORIGINAL_TOOLS } from '../src/suites/mqtt-contract.js';
import { BASTION_BINS } from '../src/targets/mcp-process.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { eventually, silentLogger, textOf } from './mqtt-helpers.js';

const clients: Client[] = [];
async function connect<T extends SSEClientTransport | StreamableHTTPClientTransport | StdioClientTransport>(
  transport: T,
) {
  const client = new Client({ name: 'harness-http', version: '1.0.0' });
  const notifications: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    notifications.push(n.params);
  });
  await client.connect(transport);
  clients.push(client);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { client, transport, notifications, call };
}

function statusOf(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'POST', headers: options.headers }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describeEachTier('MQTT server transports', mqttBrokerProviders, (ctx) => {
  let host: McpHttpHost;
  beforeAll(async () => {
    host = await startMqttHttpServer({ port: 0, logLevel: 'silent' }, { logger: silentLogger });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(() => host.close());

  /** A session the way MQTTX opens it: {"url": "http://localhost:4000/mqttx/sse"}, with this run's port. */
  const asMqttx = () => connect(new SSEClientTransport(new URL(`http://localhost:${host.port}/mqttx/sse`)));

  it(verifies('mqtt.compat.mqttx-url'), async () => {
    const t = ctx.target();
    const { client, call } = await asMqttx();
    expect(client.getServerVersion()?.name).toBe('mqtt-server');
    const { tools } = await client.listTools();
    for (const [name, original] of Object.entries(ORIGINAL_TOOLS)) {
      const tool = tools.find((x) => x.name === name);
      expect(tool?.description, name).toBe(original.description);
      expect([...(tool?.inputSchema.required ?? [])].sort(), name).toEqual(original.required);
      const properties = (tool?.inputSchema.properties ?? {}) as Record<string, { type?: string }>;
      for (const [field, type] of Object.entries(original.fields))
        expect(properties[field]?.type, field).toBe(type);
    }
    expect(textOf(await call('mqttConnect', { host: t.host, port: t.port, clientId: 'mqttx-desktop' }))).toBe(
      `Successfully connected to MQTT broker at ${t.host}:${t.port} with client ID mqttx-desktop`,
    );
    expect(textOf(await call('mqttDisconnect'))).toBe('Successfully disconnected from MQTT broker');
  });

  it(verifies('mqtt.transport.legacy-sse'), async () => {
    const t = ctx.target();
    const { call, notifications } = await asMqttx();
    await call('mqttConnect', { host: t.host, port: t.port, clientId: 'mqttx-stream' });
    // Answers travel on the GET stream for the POSTs to /mqttx/message?sessionId=.
    expect(textOf(await call('mqttSubscribe', { topic: 'mqttx/#' }))).toBe(
      "Successfully subscribed to MQTT topic 'mqttx/#' with QoS 0",
    );
    expect(
      textOf(await call('mqttPublish', { topic: 'mqttx/hello', payload: 'hi', qos: 1, retain: false })),
    ).toBe("Successfully published message to MQTT topic 'mqttx/hello' with QoS 1, retain: false");
    // Received messages reach the SSE stream, now as valid MCP logging notifications.
    await eventually(() => (notifications.length > 0 ? true : undefined), 'a notification on the SSE stream');
    expect(notifications[0]).toMatchObject({ level: 'info', data: { topic: 'mqttx/hello', payload: 'hi' } });
  });

  it(verifies('mqtt.sessions.close-releases'), async () => {
    const t = ctx.target();
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    try {
      const sse = await connect(new SSEClientTransport(new URL(`${host.url}/mqttx/sse`)));
      const streamable = await connect(new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`)));
      for (const [name, session] of [
        ['sse', sse],
        ['streamable', streamable],
      ] as const) {
        const result = await session.call('mqttConnect', {
          host: proxy.host,
          port: proxy.port,
          clientId: `closing-${name}`,
        });
        expect(result.isError).toBeFalsy();
      }
      expect(proxy.connectionCount()).toBe(2);
      // Closing the SSE stream, and ending the Streamable HTTP session, each end their session.
      await sse.client.close();
      await eventually(() => (proxy.connectionCount() === 1 ? true : undefined), 'the SSE session to let go');
      await streamable.transport.terminateSession();
      await eventually(
        () => (proxy.connectionCount() === 0 ? true : undefined),
        'the HTTP session to let go',
      );
    } finally {
      await proxy.close();
    }
  });

  it(verifies('mqtt.transport.streamable-http'), async () => {
    const t = ctx.target();
    const { call, notifications } = await connect(
      new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`)),
    );
    await call('mqttConnect', { host: t.host, port: t.port, clientId: 'streamable' });
    await call('mqttSubscribe', { topic: 'streamable/t', qos: 1 });
    const publish = await call('mqttPublish', { topic: 'streamable/t', payload: 'x', qos: 1 });
    expect(publish.isError).toBeFalsy();
    const read = await call('mqttReadMessages', { waitMs: 10_000 });
    expect(read.structuredContent).toMatchObject({ messages: [{ topic: 'streamable/t', payload: 'x' }] });
    await eventually(() => (notifications.length > 0 ? true : undefined), 'a notification on the GET stream');
  });

  it(verifies('mqtt.transport.stdio'), async () => {
    const t = ctx.target();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BASTION_BINS.mqtt, '--transport', 'stdio', '--log-level', 'warn'],
      stderr: 'pipe',
    });
    const { client, call } = await connect(transport);
    const errors: Error[] = [];
    client.onerror = (err) => errors.push(err);
    expect(textOf(await call('mqttConnect', { host: t.host, port: t.port, clientId: 'stdio' }))).toBe(
      `Successfully connected to MQTT broker at ${t.host}:${t.port} with client ID stdio`,
    );
    await call('mqttSubscribe', { topic: 'stdio/t', qos: 1 });
    await call('mqttPublish', { topic: 'stdio/t', payload: 'piped', qos: 1 });
    const read = await call('mqttReadMessages', { waitMs: 10_000 });
    expect(read.structuredContent).toMatchObject({ messages: [{ payload: 'piped' }] });
    // A stray line on stdout would have been a parse error here.
    expect(errors).toEqual([]);
  });
});

describe('MQTT server HTTP checks', () => {
  const TOKEN = 'harness-token-5d1c';
  let host: McpHttpHost;
  beforeAll(async () => {
    host = await startMqttHttpServer(
      { port: 0, authToken: TOKEN, maxPayloadBytes: 1024, logLevel: 'silent' },
      { logger: silentLogger },
    );
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(() => host.close());
  const auth = { Authorization: `Bearer ${TOKEN}` };

  it(verifies('http.host.loopback-default'), () => {
    expect(new URL(host.url).hostname).toBe('127.0.0.1');
  });

  it(verifies('http.host.dns-rebinding'), async () => {
    expect(
      await statusOf(`${host.url}/mcp`, { headers: { ...auth, Host: `attacker.example:${host.port}` } }),
    ).toBe(403);
    expect(
      await statusOf(`${host.url}/mcp`, { headers: { ...auth, Origin: 'http://attacker.example' } }),
    ).toBe(403);
    expect(
      await statusOf(`${host.url}/mqttx/sse`, {
        method: 'GET',
        headers: { ...auth, Host: 'attacker.example' },
      }),
    ).toBe(403);
  });

  it(verifies('http.auth.bearer'), async () => {
    expect(await statusOf(`${host.url}/mcp`, { body: '{}' })).toBe(401);
    expect(await statusOf(`${host.url}/mcp`, { headers: { Authorization: 'Bearer nope' }, body: '{}' })).toBe(
      401,
    );
    expect(await statusOf(`${host.url}/mqttx/sse`, { method: 'GET' })).toBe(401);
    expect(await statusOf(`${host.url}/mqttx/message?sessionId=x`, { body: '{}' })).toBe(401);
    const { client } = await connect(
      new SSEClientTransport(new URL(`${host.url}/mqttx/sse`), {
        requestInit: { headers: auth },
        eventSourceInit: {
          fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...auth } }),
        },
      }),
    );
    expect((await client.listTools()).tools.length).toBe(7);
  });

  it(verifies('http.body.limit'), async () => {
    const huge = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
      params: { pad: 'x'.repeat(200_000) },
    });
    expect(
      await statusOf(`${host.url}/mcp`, {
        headers: {
          ...auth,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: huge,
      }),
    ).toBe(413);
  });
});
