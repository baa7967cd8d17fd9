/**
 * The Streamable HTTP session transport at the HTTP level, through the host: what a client that is
 * not the SDK's sees (status codes, headers, event streams), and the SDK client's own behaviours
 * that depend on it (progress on the POST's stream, a server-to-client request during a call,
 * notifications on the GET stream).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolResultSchema,
  LATEST_PROTOCOL_VERSION,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type McpHttpHost, startMcpHttpHost } from '../src/index.js';

const logger = pino({ level: 'silent' });
const hosts: McpHttpHost[] = [];
const clients: Client[] = [];
const servers: McpServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  servers.length = 0;
});

async function startHost(sseHeartbeatMs?: number): Promise<string> {
  const host = await startMcpHttpHost({
    name: 'test',
    logger,
    ...(sseHeartbeatMs === undefined ? {} : { sseHeartbeatMs }),
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = new McpServer({ name: 'test', version: '1.0.0' });
          server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }, extra) => {
            const token = extra._meta?.progressToken;
            if (token !== undefined) {
              for (let i = 1; i <= 3; i++)
                await extra.sendNotification({
                  method: 'notifications/progress',
                  params: { progressToken: token, progress: i, total: 3 },
                });
            }
            return { content: [{ type: 'text', text }] };
          });
          server.registerTool('roots', {}, async () => {
            const { roots } = await server.server.listRoots();
            return { content: [{ type: 'text', text: roots.map((r) => r.uri).join(',') }] };
          });
          servers.push(server);
          await server.connect(transport);
          return { close: () => server.close() };
        },
      },
    ],
  });
  hosts.push(host);
  return `${host.url}/mcp`;
}

const BOTH = 'application/json, text/event-stream';
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
};

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: BOTH, ...headers },
    body: JSON.stringify(body),
  });
}

/** A session opened by hand: its id, after the initialize answer and the initialized notification. */
async function rawSession(url: string): Promise<string> {
  const res = await post(url, initialize);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const id = res.headers.get('mcp-session-id');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  const text = await res.text();
  expect(text).toMatch(/^event: message\ndata: \{.*"id":1.*\}\n\n$/s);
  const ack = await post(
    url,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'mcp-session-id': id! },
  );
  expect(ack.status).toBe(202);
  return id!;
}

async function errorOf(res: Response): Promise<{ status: number; code: number; message: string }> {
  const body = (await res.json()) as { error: { code: number; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

describe('Streamable HTTP session transport', () => {
  it('answers a request on an event stream that ends with the answer, and notifications with 202', async () => {
    const url = await startHost();
    const session = await rawSession(url);
    const res = await post(
      url,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } },
      { 'mcp-session-id': session, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
    );
    expect(res.status).toBe(200);
    const events = (await res.text()).split('\n\n').filter((e) => e !== '');
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.replace(/^event: message\ndata: /, ''))).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { content: [{ type: 'text', text: 'hi' }] },
    });
  });

  it('answers a batch of two requests on one stream, closed after both answers', async () => {
    const url = await startHost();
    const session = await rawSession(url);
    const res = await post(
      url,
      [
        { jsonrpc: '2.0', id: 'a', method: 'ping' },
        { jsonrpc: '2.0', id: 'b', method: 'tools/list' },
      ],
      { 'mcp-session-id': session },
    );
    const ids = (await res.text())
      .split('\n\n')
      .filter((e) => e !== '')
      .map((e) => (JSON.parse(e.replace(/^event: message\ndata: /, '')) as { id: string }).id);
    expect(ids.sort()).toEqual(['a', 'b']);
  });

  it('refuses what the SDK refuses, with the same status and JSON-RPC error', async () => {
    const url = await startHost();
    const session = await rawSession(url);
    const h = { 'mcp-session-id': session };
    expect(
      await errorOf(
        await post(url, { jsonrpc: '2.0', id: 3, method: 'ping' }, { ...h, accept: 'application/json' }),
      ),
    ).toMatchObject({ status: 406, code: -32000 });
    expect(
      await errorOf(
        await fetch(url, {
          method: 'POST',
          headers: { ...h, accept: BOTH, 'content-type': 'text/plain' },
          body: '{}',
        }),
      ),
    ).toMatchObject({ status: 415, code: -32000 });
    expect(await errorOf(await post(url, { hello: 'world' }, h))).toMatchObject({
      status: 400,
      code: -32700,
    });
    const batch = Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
    expect(await errorOf(await post(url, batch, h))).toMatchObject({ status: 400, code: -32600 });
    expect(await errorOf(await post(url, { ...initialize, id: 9 }, h))).toMatchObject({
      status: 400,
      code: -32600,
      message: 'Invalid Request: Server already initialized',
    });
    const badVersion = await errorOf(
      await post(
        url,
        { jsonrpc: '2.0', id: 4, method: 'ping' },
        { ...h, 'mcp-protocol-version': '1999-01-01' },
      ),
    );
    expect(badVersion).toMatchObject({ status: 400, code: -32000 });
    expect(badVersion.message).toContain('Unsupported protocol version: 1999-01-01');
    const put = await fetch(url, { method: 'PUT', headers: h });
    expect(put.status).toBe(405);
  });

  it('allows one GET stream per session, and DELETE ends the session', async () => {
    const url = await startHost();
    const session = await rawSession(url);
    const h = { 'mcp-session-id': session };
    expect(await errorOf(await fetch(url, { headers: { ...h, accept: 'application/json' } }))).toMatchObject({
      status: 406,
    });
    const controller = new AbortController();
    const stream = await fetch(url, {
      headers: { ...h, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect(await errorOf(await fetch(url, { headers: { ...h, accept: 'text/event-stream' } }))).toMatchObject(
      {
        status: 409,
      },
    );
    controller.abort();
    const deleted = await fetch(url, { method: 'DELETE', headers: h });
    expect(deleted.status).toBe(200);
    expect((await post(url, { jsonrpc: '2.0', id: 5, method: 'ping' }, h)).status).toBe(404);
  });

  it('keeps an idle event stream alive with SSE comments', async () => {
    const url = await startHost(20);
    const session = await rawSession(url);
    const controller = new AbortController();
    const stream = await fetch(url, {
      headers: { 'mcp-session-id': session, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const reader = stream.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe(': keepalive\n\n');
    controller.abort();
  });

  it('carries progress and a server-to-client request on the call stream, and notifications on the GET stream', async () => {
    const url = await startHost();
    const client = new Client({ name: 'sdk', version: '1' }, { capabilities: { roots: {} } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///srv' }] }));
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    clients.push(client);
    const progress: number[] = [];
    const echoed = await client.request(
      { method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(echoed.content).toEqual([{ type: 'text', text: 'x' }]);
    expect(progress).toEqual([1, 2, 3]);
    const roots = await client.callTool({ name: 'roots', arguments: {} });
    expect(roots.content).toEqual([{ type: 'text', text: 'file:///srv' }]);
    for (let i = 0; i < 100 && changed === 0; i++) {
      servers[0]!.sendToolListChanged();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(changed).toBeGreaterThan(0);
  });
});
