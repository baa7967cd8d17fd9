/** The HTTP guards in front of every Bastion endpoint: Host parsing, tokens, discovery paths, body depth. */
import { request } from 'node:http';
import { McpServer } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  bearerTokenAuthenticator,
  jsonDepthExceeds,
  type McpHttpHost,
  parseHostHeader,
  startMcpHttpHost,
  tokenAuthenticator,
} from '../src/index.js';

const logger = pino({ level: 'silent' });
const hosts: McpHttpHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

async function start(extra: Partial<Parameters<typeof startMcpHttpHost>[0]> = {}) {
  const host = await startMcpHttpHost({
    name: 'guarded',
    logger,
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          const server = new McpServer({ name: 'echo', version: '1.0.0' });
          server.registerTool(
            'echo',
            { inputSchema: z.object({ value: z.unknown() }) },
            async ({ value }) => ({
              content: [{ type: 'text', text: JSON.stringify(value) }],
            }),
          );
          await server.connect(transport);
          return { close: () => server.close() };
        },
      },
    ],
    ...extra,
  });
  hosts.push(host);
  return host;
}

function statusWithHost(url: string, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end('{}');
  });
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('Host header', () => {
  it('parses name[:port] and [ipv6][:port] strictly', () => {
    expect(parseHostHeader('localhost:4000')).toEqual({ hostname: 'localhost', port: 4000 });
    expect(parseHostHeader('[::1]:4000')).toEqual({ hostname: '[::1]', port: 4000 });
    expect(parseHostHeader('127.0.0.1')).toEqual({ hostname: '127.0.0.1', port: undefined });
    for (const bad of [
      '[::1]evil',
      '[::1].evil.com',
      '[::1]:80:80',
      'a b',
      'evil.com@127.0.0.1',
      '[nothex]',
      '',
      'x:99999',
    ]) {
      expect(parseHostHeader(bad), bad).toBeUndefined();
    }
  });

  it('refuses Host: [::1]evil and [::1].evil.com with 403 (they are not loopback)', async () => {
    const host = await start();
    expect(await statusWithHost(`${host.url}/mcp`, '[::1]evil')).toBe(403);
    expect(await statusWithHost(`${host.url}/mcp`, '[::1].evil.com')).toBe(403);
    expect(await statusWithHost(`${host.url}/mcp`, `[::1]:${host.port}`)).toBe(400);
  });
});

describe('bearer tokens', () => {
  it('answers a wrong token with Bearer error="invalid_token", and a missing one with a bare challenge', async () => {
    const host = await start({ authenticate: bearerTokenAuthenticator('right-token-0123456789') });
    const missing = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(initialize),
    });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, authorization: 'Bearer stale' },
      body: JSON.stringify(initialize),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('answers OAuth discovery documents and unknown paths with 404 before authentication', async () => {
    const host = await start({ authenticate: bearerTokenAuthenticator('right-token-0123456789') });
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/servers/unknown/mcp',
    ]) {
      expect((await fetch(`${host.url}${path}`)).status, path).toBe(404);
    }
  });

  it('gives each token its own identity, and a trusted identity header a sub-identity of it', async () => {
    const auth = tokenAuthenticator(['token-a-0123456789', 'token-b-0123456789'], {
      identityHeader: 'x-bastion-identity',
    });
    const req = (_token: string, identity?: string) =>
      ({ headers: identity === undefined ? {} : { 'x-bastion-identity': identity } }) as never;
    const a = await auth('token-a-0123456789', req('token-a-0123456789'));
    const b = await auth('token-b-0123456789', req('token-b-0123456789'));
    expect(a?.id).toMatch(/^token:[0-9a-f]{16}$/);
    expect(a?.id).not.toBe(b?.id);
    expect((await auth('token-a-0123456789', req('x', 'grant:ops')))?.id).toBe(`${a?.id}/grant:ops`);
    expect(await auth('token-a-0123456789', req('x', 'has space'))).toBeUndefined();
    expect(await auth('nope', req('x', 'grant:ops'))).toBeUndefined();
  });
});

describe('JSON depth', () => {
  it('finds nesting beyond the limit without recursing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepthExceeds(deep, 64)).toBe(true);
    expect(jsonDepthExceeds({ a: { b: [1, { c: 2 }] } }, 4)).toBe(false);
    expect(jsonDepthExceeds({ a: { b: [1, { c: {} }] } }, 4)).toBe(true);
  });

  it('answers arguments nested 5,000 deep as invalid params, and the session keeps working', async () => {
    const host = await start();
    const init = await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(initialize),
    });
    const session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    const headers = { ...JSON_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    await fetch(`${host.url}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
    const call = (value: string, id: number) =>
      fetch(`${host.url}/mcp`, {
        method: 'POST',
        headers,
        body: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"value":${value}}}}`,
      });
    const refused = await call(deep, 7);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ id: 7, error: { code: -32602 } });
    const ok = await call('[1,2]', 8);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('[1,2]');
  });
});
