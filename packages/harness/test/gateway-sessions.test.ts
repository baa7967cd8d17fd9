/**
 * What keeps the gateway standing: session caps that refuse clearly (instead of one token starting
 * an upstream process per initialize until the machine runs out), a second request with an id in
 * flight refused without costing the first its answer, error results every official client accepts,
 * and a SIGTERM that lets calls in flight finish.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createGrantToken,
  MemoryStateStore,
  type SessionDirectory,
  type SessionRecord,
  type StateStore,
} from '@bastion/gateway';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { startGatewayProcess } from '../src/targets/mcp-process.js';
import { makeTempDir } from '../src/targets/run-scope.js';
import { AGENT_KINDS, type Agent, connectAgent } from './gateway-fixtures/agents.js';
import {
  errorDetails,
  midMinuteClock,
  startFixtureHttp,
  startGateway,
  stdioFixture,
  textOf,
} from './gateway-fixtures/harness.js';
import { pidsWithEnv } from './gateway-fixtures/processes.js';
import { startModernFixture } from './gateway-fixtures/server-v2.js';

const ALLOW_ALL = { version: '1', default: 'allow' };
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function initialize(url: string, token: string, id = 1) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
}

describe('session caps', () => {
  it(verifies('gateway.limits.sessions'), async () => {
    const marker = `gw-cap-${process.pid}-${Date.now()}`;
    const h = await startGateway({
      servers: { fx: stdioFixture({ policy: ALLOW_ALL, env: { BASTION_TEST_MARKER: marker } }) },
      grants: { alice: { servers: ['fx'] }, bob: { servers: ['fx'] } },
      limits: { sessionsPerGrant: 3, sessions: 4 },
    });
    closers.push(() => h.close());
    const http = await h.listen();
    const url = `${http.url}/servers/fx/mcp`;
    // 25 initialize calls with one token, as a new user once tried: three sessions, the rest refused.
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) => initialize(url, h.tokens.alice ?? '', i)),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(22);
    const refused = answers.find((r) => r.status === 429);
    expect(refused?.headers.get('retry-after')).toBe('5');
    expect(await refused?.json()).toMatchObject({
      error: {
        code: -31001,
        message: expect.stringMatching(/too many sessions: this grant holds 3/),
        data: { code: 'SESSION_LIMIT', scope: 'grant', limit: 3 },
      },
    });
    for (const r of answers) if (!r.bodyUsed) await r.body?.cancel();
    // One upstream process per admitted session, not per attempt.
    expect(await pidsWithEnv('BASTION_TEST_MARKER', marker)).toHaveLength(3);
    // Another grant has its own three, up to the process-wide four.
    expect((await initialize(url, h.tokens.bob ?? '')).status).toBe(200);
    const full = await initialize(url, h.tokens.bob ?? '');
    expect(full.status).toBe(503);
    expect(await full.json()).toMatchObject({
      error: { code: -31001, data: { scope: 'process', limit: 4 } },
    });
    expect(h.gateway.sessionCount()).toBe(4);
  });
});

/** A raw 2025-era session: initialize, then POSTs of our own. */
async function rawSession(url: string, token: string) {
  const init = await initialize(url, token);
  await init.text();
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
    'mcp-session-id': init.headers.get('mcp-session-id') ?? '',
    'mcp-protocol-version': '2025-11-25',
  };
  return (body: unknown) =>
    fetch(url, { method: 'POST', headers, body: JSON.stringify(body) }).then(async (res) => {
      const text = await res.text();
      const data = text
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
      return data.length > 0 ? data : [JSON.parse(text) as Record<string, unknown>];
    });
}

/** A session directory two gateways share, as replicas behind one address would share Redis. */
class SharedDirectory implements SessionDirectory {
  readonly shared = true;
  readonly records = new Map<string, SessionRecord>();
  async save(id: string, record: SessionRecord) {
    this.records.set(id, structuredClone(record));
  }
  async load(id: string) {
    return structuredClone(this.records.get(id));
  }
  async drop(id: string) {
    this.records.delete(id);
  }
}

function storeWith(sessions: SessionDirectory): StateStore {
  const memory = new MemoryStateStore();
  return {
    counters: memory.counters,
    sessions,
    table: (name) => memory.table(name),
    close: () => memory.close(),
  };
}

describe('session routing through the store', () => {
  it(verifies('gateway.store.session-routing'), async () => {
    const up = await startFixtureHttp();
    closers.push(() => up.stop());
    const directory = new SharedDirectory();
    const config = {
      servers: { fx: { transport: 'http', url: `${up.url}/mcp`, policy: ALLOW_ALL } },
      anonymous: { servers: ['fx'] },
    };
    const replica = async () => {
      const h = await startGateway(config, { store: storeWith(directory) });
      closers.push(() => h.close());
      return `${(await h.listen()).url}/servers/fx/mcp`;
    };
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(a, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      }),
    });
    const session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    expect(directory.records.get(session)).toMatchObject({ server: 'fx', principal: { id: 'anonymous' } });
    const sessionHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const calls = async (url: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: sessionHeaders,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'sessionInfo', arguments: {} },
        }),
      });
      const text = await res.text();
      return res.status === 200
        ? (
            JSON.parse(text.replace(/^[\s\S]*?data: /, '')) as {
              result: { structuredContent: { calls: number } };
            }
          ).result.structuredContent.calls
        : res.status;
    };
    expect(await calls(a)).toBe(1);
    // Another process serves the same session, on the same upstream session.
    expect(await calls(b)).toBe(2);
    expect(await calls(a)).toBe(3);
    // Ended on one: gone for all.
    expect((await fetch(b, { method: 'DELETE', headers: sessionHeaders })).status).toBe(200);
    expect(directory.records.has(session)).toBe(false);
    expect(await calls(c)).toBe(404);
  });
});

describe('request ids', () => {
  it(verifies('gateway.session.duplicate-id'), async () => {
    const up = await startFixtureHttp();
    closers.push(() => up.stop());
    const h = await startGateway({
      servers: { fx: { transport: 'http', url: `${up.url}/mcp`, policy: ALLOW_ALL } },
      grants: { alice: { servers: ['fx'] } },
    });
    closers.push(() => h.close());
    const http = await h.listen();
    const send = await rawSession(`${http.url}/servers/fx/mcp`, h.tokens.alice ?? '');
    const call = (name: string, args: Record<string, unknown>) => ({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name, arguments: args },
    });
    const first = send(call('slow', { ms: 400, steps: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    const second = await send(call('sessionInfo', {}));
    expect(second.at(-1)).toMatchObject({
      id: 7,
      error: { code: -32600, message: expect.stringMatching(/already in flight/) },
    });
    const answered = await first;
    expect(answered.at(-1)).toMatchObject({
      id: 7,
      result: { content: [{ type: 'text', text: 'slept 400' }] },
    });
    // The id is free again once answered.
    expect((await send(call('sessionInfo', {}))).at(-1)).toMatchObject({
      id: 7,
      result: { structuredContent: { calls: 2 } },
    });
  });
});

describe('error results and the official clients', () => {
  it(verifies('gateway.error-result.convention'), async () => {
    const fx = await startModernFixture('dual');
    closers.push(() => fx.close());
    const policy = {
      version: '1',
      default: 'deny',
      tools: { mqttDisconnect: { limits: [{ counter: 'd', window: 'minute', max: 1 }] } },
    };
    // The two calls of each agent in one window: the second is the one over the limit.
    const h = await startGateway(
      {
        servers: { m: { transport: 'http', url: fx.url, policy } },
        grants: Object.fromEntries(AGENT_KINDS.map((k) => [k, { servers: ['m'] }])),
      },
      { clock: midMinuteClock() },
    );
    closers.push(() => h.close());
    const http = await h.listen();
    for (const kind of AGENT_KINDS) {
      const agent: Agent = await connectAgent(`${http.url}/servers/m/mcp`, h.tokens[kind], kind);
      closers.push(() => agent.close());
      // Listing makes each client validate results against mqttDisconnect's outputSchema.
      const listed = await agent.listTools();
      expect(listed.map((t) => t.name)).toEqual(['mqttDisconnect']);
      expect(listed[0]?.outputSchema).toMatchObject({ properties: { disconnected: {} } });
      expect((await agent.callTool('mqttDisconnect')).structuredContent, kind).toEqual({
        disconnected: true,
      });
      // The denial passes the client's own callTool validation: isError, text, no structuredContent.
      const denied = await agent.callTool('mqttDisconnect');
      expect(denied.isError, kind).toBe(true);
      expect(denied.structuredContent, kind).toBeUndefined();
      expect(textOf(denied)).toMatch(/^\[POLICY DENIED\] rate limit reached/);
      expect(errorDetails(denied)).toMatchObject({
        code: 'POLICY_DENIED',
        rule: '/tools/mqttDisconnect/limits/0',
      });
    }
  });
});

describe('graceful stop', () => {
  it(verifies('gateway.shutdown.drain'), { timeout: 90_000 }, async () => {
    const up = await startFixtureHttp();
    closers.push(() => up.stop());
    const dir = await makeTempDir('bastion-drain-');
    const { token, tokenSha256 } = createGrantToken();
    const file = join(dir, 'gateway.json');
    await writeFile(
      file,
      JSON.stringify({
        servers: { fx: { transport: 'http', url: `${up.url}/mcp`, policy: ALLOW_ALL } },
        grants: { agent: { tokenSha256, servers: ['fx'] } },
        limits: { shutdownGraceMs: 20_000 },
      }),
    );
    const gateway = await startGatewayProcess(file);
    closers.push(() => gateway.stop());
    const url = `${gateway.url}/servers/fx/mcp`;
    const busy = await connectAgent(url, token, 'v1');
    const late = await connectAgent(url, token, 'v2-2026');
    closers.push(() => busy.close());
    closers.push(() => late.close());
    await late.callTool('sessionInfo');
    // Its first progress says the call runs upstream; it goes on for seconds after that.
    let progressed: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      progressed = resolve;
    });
    const running = busy.callTool('slow', { ms: 6000, steps: 30 }, { onprogress: () => progressed() });
    await started;
    const exited = gateway.kill('SIGTERM', 60_000);
    // The gateway logs 'shutting down' in the same turn as it starts refusing.
    await vi.waitFor(() => expect(gateway.recentOutput()).toContain('"msg":"shutting down"'), {
      timeout: 10_000,
    });
    // While it drains, new work is refused clearly...
    await expect(late.callTool('sessionInfo')).rejects.toThrow(/shutting down|503/);
    // ...and the call in flight finishes.
    const result = await running;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('slept 6000');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
