import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bearerTokenAuthenticator, type McpHttpHost, startMcpHttpHost } from '../src/index.js';

const logger = pino({ level: 'silent' });
const hosts: McpHttpHost[] = [];
const clients: Client[] = [];
let opened = 0;
let closed = 0;
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1' } },
};

async function startEcho(extra: Partial<Parameters<typeof startMcpHttpHost>[0]> = {}) {
  const host = await startMcpHttpHost({
    name: 'echo',
    logger,
    endpoints: [
      {
        streamablePath: '/mcp',
        sse: { streamPath: '/sse', messagePath: '/messages' },
        async openSession(transport, info) {
          opened++;
          const server = new McpServer({ name: 'echo', version: '1.0.0' });
          server.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => ({
            content: [{ type: 'text', text: `${info.transport}:${text}` }],
          }));
          await server.connect(transport);
          return {
            async close() {
              closed++;
              await server.close();
            },
          };
        },
      },
    ],
    ...extra,
  });
  hosts.push(host);
  return host;
}

async function connect(transport: StreamableHTTPClientTransport | SSEClientTransport) {
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

function statusWithHost(url: string, hostHeader: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { host: hostHeader } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end('{}');
  });
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  opened = 0;
  closed = 0;
});

describe('mcp-http host', () => {
  it('serves a tool over Streamable HTTP and over legacy SSE on one port', async () => {
    const host = await startEcho();
    const a = await connect(new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`)));
    const b = await connect(new SSEClientTransport(new URL(`${host.url}/sse`)));
    const ra = await a.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const rb = await b.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(ra.content).toEqual([{ type: 'text', text: 'streamable-http:hi' }]);
    expect(rb.content).toEqual([{ type: 'text', text: 'sse:hi' }]);
    expect(host.sessionCount()).toBe(2);
  });

  it('closes the session owner when a Streamable HTTP client ends its session', async () => {
    const host = await startEcho();
    const transport = new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`));
    await connect(transport);
    expect(opened).toBe(1);
    await transport.terminateSession();
    expect(closed).toBe(1);
    expect(host.sessionCount()).toBe(0);
  });

  it('closes a Streamable HTTP session that stays idle past the timeout, and keeps an active one', async () => {
    const host = await startEcho({ idleSessionTimeoutMs: 200 });
    // A client that initializes and then vanishes without a DELETE (and holds no GET stream).
    const init = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'gone', version: '1' },
        },
      }),
    });
    await init.text();
    expect(init.headers.get('mcp-session-id')).toBeTruthy();
    // The SDK client keeps a GET stream open and calls now and then: alive, never closed.
    const active = await connect(new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`)));
    await expect
      .poll(
        async () => {
          await active.callTool({ name: 'echo', arguments: { text: 'x' } });
          return closed;
        },
        { timeout: 5_000 },
      )
      .toBe(1);
    expect(host.sessionCount()).toBe(1);
    expect((await active.callTool({ name: 'echo', arguments: { text: 'still' } })).isError).toBeFalsy();
  });

  it('closes every open session when the host closes', async () => {
    const host = await startEcho();
    await connect(new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`)));
    await connect(new SSEClientTransport(new URL(`${host.url}/sse`)));
    await host.close();
    expect(closed).toBe(2);
  });

  it('answers 401 without the bearer token and serves with it', async () => {
    const host = await startEcho({ authenticate: bearerTokenAuthenticator('s3cret') });
    const res = await fetch(`${host.url}/mcp`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(`${host.url}/sse`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const client = await connect(
      new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`), {
        requestInit: { headers: { authorization: 'Bearer s3cret' } },
      }),
    );
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
  });

  it('refuses a foreign Host or Origin (DNS rebinding) with 403', async () => {
    const host = await startEcho();
    // fetch forbids setting Host, so this request is made with node:http.
    expect(await statusWithHost(`${host.url}/mcp`, 'evil.example')).toBe(403);
    expect(await statusWithHost(`${host.url}/mcp`, `localhost:${host.port}`)).toBe(400);
    const evilOrigin = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
    });
    expect(evilOrigin.status).toBe(403);
    const okOrigin = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: { origin: host.url, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(okOrigin.status).toBe(400);
  });

  it('refuses Origin: null with 403 and never answers it with Access-Control-Allow-Origin', async () => {
    const host = await startEcho();
    for (const method of ['OPTIONS', 'POST', 'GET'] as const) {
      const res = await fetch(`${host.url}/mcp`, {
        method,
        headers: {
          origin: 'null',
          'access-control-request-method': 'POST',
          'content-type': 'application/json',
        },
        ...(method === 'POST' ? { body: JSON.stringify(initialize) } : {}),
      });
      expect(res.status, method).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), method).toBeNull();
    }
    expect(opened).toBe(0);
  });

  it('refuses file://, chrome-extension:// and pages on other ports of this machine', async () => {
    const host = await startEcho();
    const otherPort = `http://127.0.0.1:${host.port === 65535 ? 1 : host.port + 1}`;
    for (const origin of [
      'file://',
      'chrome-extension://abcdefghijklmnop',
      otherPort,
      'http://localhost',
      'app://.',
    ]) {
      const res = await fetch(`${host.url}/mcp`, {
        method: 'POST',
        headers: {
          origin,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(initialize),
      });
      expect(res.status, origin).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
    expect(opened).toBe(0);
  });

  it("accepts the server's own origin and a request without Origin", async () => {
    const host = await startEcho();
    for (const headers of [{ origin: host.url }, { origin: `http://localhost:${host.port}` }, {}] as Record<
      string,
      string
    >[]) {
      const client = await connect(
        new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`), { requestInit: { headers } }),
      );
      expect((await client.listTools()).tools).toHaveLength(1);
    }
  });

  it("accepts a configured origin such as a desktop app's app://., and answers its CORS preflight", async () => {
    const host = await startEcho({
      authenticate: bearerTokenAuthenticator('t'),
      allowedOrigins: ['app://.'],
    });
    const preflight = await fetch(`${host.url}/mcp`, {
      method: 'OPTIONS',
      headers: { origin: 'app://.', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('app://.');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const client = await connect(
      new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`), {
        requestInit: { headers: { authorization: 'Bearer t', origin: 'app://.' } },
      }),
    );
    expect((await client.listTools()).tools).toHaveLength(1);
    const web = await fetch(`${host.url}/mcp`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    expect(web.status).toBe(403);
    expect(web.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("refuses to start with 'null' among the configured origins", async () => {
    await expect(startEcho({ allowedOrigins: ['null'] })).rejects.toThrow(/never 'null'/);
  });

  it('answers 413 for a body over the limit and 400 for a body that is not JSON', async () => {
    const host = await startEcho({ maxBodyBytes: 1024 });
    const big = await fetch(`${host.url}/mcp`, { method: 'POST', body: 'x'.repeat(4096) });
    expect(big.status).toBe(413);
    const bad = await fetch(`${host.url}/mcp`, { method: 'POST', body: '{not json' });
    expect(bad.status).toBe(400);
  });

  it('answers 400 for a legacy POST without sessionId and 404 for an unknown one', async () => {
    const host = await startEcho();
    expect((await fetch(`${host.url}/messages`, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await fetch(`${host.url}/messages?sessionId=nope`, { method: 'POST', body: '{}' })).status).toBe(
      404,
    );
    const unknown = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: { 'mcp-session-id': 'nope', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unknown.status).toBe(404);
  });

  it('does not let one caller use a session opened by another', async () => {
    const host = await startEcho({
      authenticate: (token) => (token === 'a' || token === 'b' ? { id: token } : undefined),
    });
    const transport = new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`), {
      requestInit: { headers: { authorization: 'Bearer a' } },
    });
    await connect(transport);
    const hijack = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer b',
        'mcp-session-id': transport.sessionId ?? '',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(hijack.status).toBe(404);
  });

  it('serves plain routes, public ones without a token', async () => {
    const host = await startEcho({
      authenticate: bearerTokenAuthenticator('t'),
      routes: { '/healthz': (_req, res) => void res.end('ok'), '/private': (_req, res) => void res.end('p') },
      publicRoutes: ['/healthz'],
    });
    expect(await (await fetch(`${host.url}/healthz`)).text()).toBe('ok');
    expect((await fetch(`${host.url}/private`)).status).toBe(401);
  });

  it('hands every method under an app prefix to the app after the Host/Origin checks, without the bearer check', async () => {
    const seen: string[] = [];
    const host = await startEcho({
      authenticate: bearerTokenAuthenticator('t'),
      apps: [
        {
          prefix: '/console',
          handle: (req, res) => {
            seen.push(`${req.method} ${req.url}`);
            res.end('app');
          },
        },
      ],
    });
    expect(await (await fetch(`${host.url}/console`)).text()).toBe('app');
    expect(await (await fetch(`${host.url}/console/api/x`, { method: 'POST', body: '{}' })).text()).toBe(
      'app',
    );
    // A name that only starts like the prefix is not the app's.
    expect((await fetch(`${host.url}/consoles`)).status).toBe(404);
    // The guards still run first: a foreign Origin or Host never reaches the app.
    expect((await fetch(`${host.url}/console`, { headers: { origin: 'http://evil.example' } })).status).toBe(
      403,
    );
    expect(await statusWithHost(`${host.url}/console`, 'evil.example')).toBe(403);
    expect(seen).toEqual(['GET /console', 'POST /console/api/x']);
  });
});
