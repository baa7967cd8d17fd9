/** The gateway's HTTP front: per-server URLs, grant tokens, anonymous access, /healthz and /metrics. */
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { openRawSession } from '../src/suites/gateway/http-checks.js';
import {
  call,
  type FixtureHttp,
  type GatewayHarness,
  startFixtureHttp,
  startGateway,
} from './gateway-fixtures/harness.js';

let upstream: FixtureHttp;
let harness: GatewayHarness | undefined;

beforeAll(async () => {
  upstream = await startFixtureHttp();
});
afterAll(async () => {
  await upstream.stop();
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const POLICY = { version: '1', default: 'deny', tools: { sessionInfo: {}, mqttDisconnect: {} } };

async function twoServers(anonymous?: { servers: string[] }) {
  const fx = { transport: 'http', url: `${upstream.url}/mcp`, policy: POLICY };
  harness = await startGateway({
    servers: { fx, other: fx },
    grants: { alice: { servers: ['fx', 'other'] }, bob: { servers: ['other'] } },
    ...(anonymous ? { anonymous } : {}),
  });
  await harness.listen();
  return harness;
}

function initialize(url: string, token?: string) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
}

describe('gateway over HTTP', () => {
  it(verifies('gateway.http.healthz'), async () => {
    const h = await twoServers();
    const res = await fetch(`${h.http?.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      servers: { fx: { state: 'unchecked' }, other: { state: 'unchecked' } },
    });
    await h.gateway.checkUpstreams();
    expect(((await (await fetch(`${h.http?.url}/healthz`)).json()) as { servers: unknown }).servers).toEqual({
      fx: { state: 'ok' },
      other: { state: 'ok' },
    });
  });

  it(verifies('gateway.auth.token-required'), async () => {
    const h = await twoServers();
    const url = `${h.http?.url}/servers/fx/mcp`;
    expect((await initialize(url)).status).toBe(401);
    expect((await initialize(url, 'bgw_not-a-token')).status).toBe(401);
    // The stored hash is not a token.
    expect((await initialize(url, h.gateway.config.grants.get('alice')?.tokenSha256)).status).toBe(401);
    expect((await fetch(`${h.http?.url}/servers/fx/sse`)).status).toBe(401);
    expect((await fetch(`${h.http?.url}/metrics`)).status).toBe(401);
    const ok = await initialize(url, h.tokens.alice);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });

  it(verifies('gateway.auth.server-binding'), async () => {
    const h = await twoServers();
    expect((await initialize(`${h.http?.url}/servers/fx/mcp`, h.tokens.bob)).status).toBe(401);
    expect(
      (await fetch(`${h.http?.url}/servers/fx/sse`, { headers: { authorization: `Bearer ${h.tokens.bob}` } }))
        .status,
    ).toBe(401);
    const bob = await h.connectHttp('other', h.tokens.bob);
    expect((await call(bob, 'sessionInfo')).isError).toBeFalsy();
    // A grant's sessions are its own: another grant cannot use the session id.
    const alice = await h.connectHttp('other', h.tokens.alice);
    expect((await call(alice, 'sessionInfo')).isError).toBeFalsy();
  });

  it(verifies('gateway.auth.anonymous-opt-in'), async () => {
    const h = await twoServers({ servers: ['fx'] });
    const anonymous = await h.connectHttp('fx', undefined);
    expect((await call(anonymous, 'sessionInfo')).isError).toBeFalsy();
    expect((await initialize(`${h.http?.url}/servers/other/mcp`)).status).toBe(401);
    // A wrong token is refused even where anonymous access is allowed.
    expect((await initialize(`${h.http?.url}/servers/fx/mcp`, 'bgw_wrong')).status).toBe(401);
  });

  it(verifies('gateway.http.metrics'), async () => {
    const h = await twoServers();
    const agent = await h.connectHttp('fx', h.tokens.alice);
    await call(agent, 'sessionInfo');
    await call(agent, 'mqttConnect', { host: 'h', port: 1, clientId: 'c' });
    await call(agent, 'made-up-tool');
    const scrape = async () => {
      const res = await fetch(`${h.http?.url}/metrics`, {
        headers: { authorization: `Bearer ${h.tokens.alice}` },
      });
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return res.text();
    };
    const text = await scrape();
    expect(text).toContain(
      'bastion_gateway_decisions_total{server="fx",tool="sessionInfo",decision="allow",rule="/tools/sessionInfo"} 1',
    );
    expect(text).toContain(
      'bastion_gateway_decisions_total{server="fx",tool="mqttConnect",decision="deny",rule="(default deny)"} 1',
    );
    // Names the upstream does not offer are not labels of their own.
    expect(text).toContain(
      'bastion_gateway_decisions_total{server="fx",tool="(unknown)",decision="deny",rule="(default deny)"} 1',
    );
    expect(text).not.toContain('made-up-tool');
    expect(text).toMatch(
      /bastion_gateway_upstream_latency_seconds_count\{server="fx",tool="sessionInfo",outcome="ok"\} 1/,
    );
    expect(text).toContain('bastion_gateway_active_sessions{server="fx"} 1');
    expect(text).toContain('# TYPE bastion_gateway_upstream_reconnects_total counter');
    // Streamable HTTP sessions end with a DELETE (closing the client alone leaves the session open).
    await (agent.transport as StreamableHTTPClientTransport).terminateSession();
    await vi.waitFor(async () =>
      expect(await scrape()).toContain('bastion_gateway_active_sessions{server="fx"} 0'),
    );
  });

  it(verifies('gateway.session.request-keys'), async () => {
    const h = await twoServers();
    const session = await openRawSession(
      { url: `${h.http?.url}/servers/fx/mcp`, transport: 'streamable', token: h.tokens.alice },
      '2025-11-25',
    );
    try {
      // Requests (a method and an id) that also carry the keys of a response, as the fuzz run sent:
      // each is answered as the request it is. They were once taken for responses and never answered.
      const shapes = [
        { jsonrpc: '2.0', id: 'a', method: 'tools/list', error: null },
        { jsonrpc: '2.0', id: 'b', method: 'resources/list', result: [1] },
        { jsonrpc: '2.0', id: 'c', method: 'no/such-method', result: {}, error: { code: 1, message: 'x' } },
      ];
      for (const body of shapes) {
        const answer = await session.post(body);
        expect(
          answer.messages.map((m) => m.id),
          JSON.stringify(body),
        ).toEqual([body.id]);
      }
    } finally {
      await session.close();
    }
  });
});
