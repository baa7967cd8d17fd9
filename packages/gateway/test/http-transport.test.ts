/**
 * The gateway's upstream Streamable HTTP client transport against the SDK's own server transport:
 * event-stream and JSON answers, progress before the result, a server-to-client request during a
 * call, the GET stream, resuming a response stream the server closed early, and the failures the
 * link tells apart (404 for a forgotten session, nothing delivered for a closed port).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolResultSchema,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NodeHttpClientTransport, UpstreamNotDeliveredError } from '../src/upstream/http-transport.js';
import { ResponsesLastTransport } from '../src/upstream/ordered-transport.js';

interface Upstream {
  url: URL;
  port: number;
  /** Sessions the server has seen closed by DELETE. */
  closedSessions: string[];
  servers: McpServer[];
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** A stateful SDK server on 127.0.0.1: one McpServer and transport per session. */
async function startUpstream(
  options: { json?: boolean; resumable?: boolean; port?: number } = {},
): Promise<Upstream> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const servers: McpServer[] = [];
  const closedSessions: string[] = [];
  const newServer = () => {
    const server = new McpServer({ name: 'upstream', version: '1.0.0' });
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
      const roots = await server.server.listRoots();
      return { content: [{ type: 'text', text: roots.roots.map((r) => r.uri).join(',') }] };
    });
    server.registerTool('slow-after-close', {}, async (extra) => {
      // Ends the response stream at once; the answer comes later, to be fetched with Last-Event-ID.
      extra.closeSSEStream?.();
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { content: [{ type: 'text', text: 'late answer' }] };
    });
    servers.push(server);
    return server;
  };
  const httpServer = http.createServer(async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (transport === undefined) {
      if (typeof id === 'string' || req.method !== 'POST') {
        res.writeHead(404).end('unknown session');
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: options.json ?? false,
        ...(options.resumable ? { eventStore: new InMemoryEventStore(), retryInterval: 20 } : {}),
        onsessioninitialized: (sid) => {
          transports.set(sid, transport!);
        },
        onsessionclosed: (sid) => {
          closedSessions.push(sid);
          transports.delete(sid);
        },
      });
      await newServer().connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => httpServer.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    port,
    closedSessions,
    servers,
    connections: () =>
      new Promise((resolve, reject) =>
        httpServer.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      ),
    close: async () => {
      for (const server of servers) await server.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connect(upstream: Upstream, capabilities = {}) {
  const transport = new NodeHttpClientTransport(upstream.url);
  const client = new Client({ name: 'test', version: '1' }, { capabilities });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('NodeHttpClientTransport', () => {
  for (const json of [false, true]) {
    it(`calls a tool and gets its answer (${json ? 'JSON' : 'event-stream'} answers)`, async () => {
      const upstream = await startUpstream({ json });
      cleanups.push(() => upstream.close());
      const { client, transport } = await connect(upstream);
      expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toEqual(['echo', 'roots', 'slow-after-close']);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'héllo ✓' } });
      expect(result.content).toEqual([{ type: 'text', text: 'héllo ✓' }]);
    });
  }

  it('delivers progress notifications before the result on the response stream', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    // As in the gateway (upstream/link.ts): the SDK's Protocol handles a notification a microtask
    // after it arrives and a response at once, so responses go through ResponsesLastTransport.
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new ResponsesLastTransport(new NodeHttpClientTransport(upstream.url)));
    cleanups.push(() => client.close());
    const seen: number[] = [];
    const result = await client.request(
      { method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
      CallToolResultSchema,
      { onprogress: (p) => seen.push(p.progress) },
    );
    expect(result.content).toEqual([{ type: 'text', text: 'x' }]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('answers a server-to-client request made during a call', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const { client } = await connect(upstream, { roots: {} });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///tmp/a' }] }));
    const result = await client.callTool({ name: 'roots', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'file:///tmp/a' }]);
  });

  it('receives notifications the server sends outside any request, on the GET stream', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const { client } = await connect(upstream);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    // The GET stream opens after notifications/initialized; send until it is there to carry it.
    await until(async () => {
      upstream.servers[0]!.sendToolListChanged();
      await new Promise((resolve) => setTimeout(resolve, 20));
      return changed > 0;
    }, 'a tools/list_changed notification');
  });

  it('resumes a response stream the server closed before the answer, with Last-Event-ID', async () => {
    const upstream = await startUpstream({ resumable: true });
    cleanups.push(() => upstream.close());
    const ended: Array<string | number> = [];
    const transport = new NodeHttpClientTransport(upstream.url, {
      hooks: { onStreamEndedUnanswered: (id) => ended.push(id) },
    });
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    const result = await client.callTool({ name: 'slow-after-close', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'late answer' }]);
    expect(ended.length).toBeGreaterThan(0);
  });

  it('reports a session the server forgot as a 404, and a closed port as not delivered', async () => {
    const upstream = await startUpstream();
    const { client, transport } = await connect(upstream);
    await upstream.close();
    // Same port, new process state: the session id is unknown there.
    const restarted = await startUpstream({ port: upstream.port });
    cleanups.push(() => restarted.close());
    // The first request may go out on a kept-alive socket the old server closed (not delivered,
    // which the link retries); the next one reaches the new server, which does not know the session.
    let forgotten = await client.listTools().catch((err: unknown) => err);
    if (forgotten instanceof UpstreamNotDeliveredError)
      forgotten = await client.listTools().catch((err: unknown) => err);
    expect(forgotten).toBeInstanceOf(StreamableHTTPError);
    expect((forgotten as StreamableHTTPError).code).toBe(404);
    await restarted.close();
    cleanups.pop();
    // Again: the first send may meet a socket the server just closed ("socket hang up").
    const ping = () =>
      transport.send({ jsonrpc: '2.0', id: 99, method: 'ping' }).catch((err: unknown) => err);
    expect(await ping()).toBeInstanceOf(UpstreamNotDeliveredError);
    const refused = await ping();
    expect(refused).toBeInstanceOf(UpstreamNotDeliveredError);
    expect((refused as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('ends the session upstream with DELETE, and close() leaves no connection open', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const transport = new NodeHttpClientTransport(upstream.url);
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(transport);
    await client.listTools();
    const sessionId = transport.sessionId;
    await transport.terminateSession();
    expect(upstream.closedSessions).toEqual([sessionId]);
    expect(transport.sessionId).toBeUndefined();
    let closed = false;
    transport.onclose = () => {
      closed = true;
    };
    await transport.close();
    expect(closed).toBe(true);
    await until(async () => (await upstream.connections()) === 0, 'the sockets to close');
    await expect(transport.send({ jsonrpc: '2.0', id: 1, method: 'ping' })).rejects.toThrow('Not connected');
  });

  it('takes an empty JSON answer to a notification, and names an answer that is not JSON', async () => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const isRequest = (JSON.parse(body) as { id?: unknown }).id !== undefined;
        res.writeHead(200, { 'content-type': 'application/json' }).end(isRequest ? '{nope' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;
    const transport = new NodeHttpClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
    cleanups.push(() => transport.close());
    await transport.send({ jsonrpc: '2.0', method: 'notifications/something' });
    await expect(transport.send({ jsonrpc: '2.0', id: 1, method: 'ping' })).rejects.toThrow(
      'the upstream answered with invalid JSON: {nope',
    );
  });

  it('refuses a URL that is not http or https', () => {
    expect(() => new NodeHttpClientTransport(new URL('ws://127.0.0.1:1/mcp'))).toThrow(/http or https/);
  });
});
