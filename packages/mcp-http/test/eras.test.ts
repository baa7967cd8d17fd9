/**
 * Both protocol eras on one URL: 2025-11-25 sessions (v1 and v2 clients) and the stateless
 * 2026-07-28 era (the v2 client pinned to it), with state kept per identity and never shared.
 */
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpHandler, InMemoryServerEventBus, McpServer } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type McpHttpHost, sdkModernIdentity, startMcpHttpHost, tokenAuthenticator } from '../src/index.js';

const logger = pino({ level: 'silent' });
const hosts: McpHttpHost[] = [];
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

/** A counter tool whose state belongs to the session (2025) or the identity (2026). */
function counterServer(state: { count: number }, era: string) {
  const server = new McpServer({ name: 'counter', version: '1.0.0' });
  server.registerTool(
    'bump',
    { description: 'Adds one and says the total', inputSchema: z.object({}) },
    async () => ({ content: [{ type: 'text', text: `${era}:${++state.count}` }] }),
  );
  return server;
}

let identitiesOpened = 0;
let identitiesClosed = 0;

async function startCounter(extra: Partial<Parameters<typeof startMcpHttpHost>[0]> = {}) {
  const host = await startMcpHttpHost({
    name: 'counter',
    logger,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = counterServer({ count: 0 }, 'legacy');
          await server.connect(transport);
          return { close: () => server.close() };
        },
        async openIdentity(principal) {
          identitiesOpened++;
          const state = { count: 0 };
          const handler = createMcpHandler(({ era }) => counterServer(state, era), {
            legacy: 'reject',
            bus: new InMemoryServerEventBus(),
          });
          return sdkModernIdentity(handler, principal, async () => {
            identitiesClosed++;
          });
        },
      },
    ],
    ...extra,
  });
  hosts.push(host);
  return host;
}

async function modernClient(url: string, token?: string) {
  const client = new V2Client(
    { name: 'modern', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  await client.connect(new V2Transport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  closers.push(() => client.close());
  return client;
}

const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]?.text;

describe('both eras on one URL', () => {
  it('serves the v2 client pinned to 2026-07-28 and the v1 client (2025-11-25) on /mcp', async () => {
    const host = await startCounter();
    const modern = await modernClient(host.url);
    expect(modern.getProtocolEra()).toBe('modern');
    expect((await modern.listTools()).tools.map((t) => t.name)).toEqual(['bump']);
    expect(text(await modern.callTool({ name: 'bump', arguments: {} }))).toBe('modern:1');

    const legacy = new V1Client({ name: 'legacy', version: '1.0.0' });
    await legacy.connect(new V1Transport(new URL(`${host.url}/mcp`)));
    closers.push(() => legacy.close());
    expect(legacy.getServerCapabilities()?.tools).toBeDefined();
    expect(text(await legacy.callTool({ name: 'bump', arguments: {} }))).toBe('legacy:1');
    expect(host.sessionCount()).toBe(1);
    expect(host.identityCount()).toBe(1);
  });

  it('keeps 2026-era state per identity: two requests of one token share it, another token does not see it', async () => {
    const host = await startCounter({
      authenticate: tokenAuthenticator(['token-a-0123456789', 'token-b-0123456789']),
    });
    const a = await modernClient(host.url, 'token-a-0123456789');
    const a2 = await modernClient(host.url, 'token-a-0123456789');
    const b = await modernClient(host.url, 'token-b-0123456789');
    expect(text(await a.callTool({ name: 'bump', arguments: {} }))).toBe('modern:1');
    expect(text(await a2.callTool({ name: 'bump', arguments: {} }))).toBe('modern:2');
    expect(text(await b.callTool({ name: 'bump', arguments: {} }))).toBe('modern:1');
    expect(host.identityCount()).toBe(2);
  });

  it('closes an identity scope that has had no request for the idle timeout', async () => {
    identitiesOpened = 0;
    identitiesClosed = 0;
    const host = await startCounter({ idleIdentityTimeoutMs: 100 });
    const client = await modernClient(host.url);
    expect(text(await client.callTool({ name: 'bump', arguments: {} }))).toBe('modern:1');
    await expect.poll(() => identitiesClosed, { timeout: 5000 }).toBe(1);
    expect(host.identityCount()).toBe(0);
    // The next request opens a fresh scope: the old state is gone.
    expect(text(await client.callTool({ name: 'bump', arguments: {} }))).toBe('modern:1');
    expect(identitiesOpened).toBe(2);
  });

  it('refuses a 2026-era request whose Mcp-Method header disagrees with its body (HeaderMismatch)', async () => {
    const host = await startCounter();
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const res = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'bump', arguments: {}, _meta: meta },
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32020);
  });

  it('answers a 2026-era request with the unsupported-version error when the endpoint serves 2025 only', async () => {
    const host = await startMcpHttpHost({
      name: 'old',
      logger,
      endpoints: [
        {
          streamablePath: '/mcp',
          async openSession(transport) {
            const server = counterServer({ count: 0 }, 'legacy');
            await server.connect(transport);
            return { close: () => server.close() };
          },
        },
      ],
    });
    hosts.push(host);
    const client = new V2Client(
      { name: 'modern', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await client.connect(new V2Transport(new URL(`${host.url}/mcp`)));
    closers.push(() => client.close());
    // 'auto' finds no 2026 era and falls back to initialize.
    expect(client.getProtocolEra()).toBe('legacy');
    expect(text(await client.callTool({ name: 'bump', arguments: {} }))).toBe('legacy:1');
  });
});

describe('raw serving', () => {
  it('hands every request of the path to serve() after the guards, with the principal and the parsed body', async () => {
    const seen: Array<{ method?: string; principal: string; body: unknown }> = [];
    const host = await startMcpHttpHost({
      name: 'raw',
      logger,
      authenticate: tokenAuthenticator(['token-a-0123456789']),
      endpoints: [
        {
          name: 'raw',
          streamablePath: '/mcp',
          async openSession() {
            throw new Error('not used');
          },
          async serve(req, res, context) {
            seen.push({ method: req.method, principal: context.principal.id, body: context.body });
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
          },
        },
      ],
    });
    hosts.push(host);
    const refused = await fetch(`${host.url}/mcp`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(401);
    const res = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: { authorization: 'Bearer token-a-0123456789', 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(await res.json()).toEqual({ ok: true });
    expect(seen).toEqual([
      {
        method: 'POST',
        principal: expect.stringMatching(/^token:/),
        body: { jsonrpc: '2.0', id: 1, method: 'ping' },
      },
    ]);
  });
});
