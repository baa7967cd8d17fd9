/**
 * Both protocol eras through the gateway, whichever era the upstream speaks: a 2026-era agent (the
 * v2 client pinned to 2026-07-28) in front of a 2026-era upstream and of 2025-only ones (Streamable
 * HTTP, stdio, legacy SSE), a 2025-era agent in front of 2026-only upstreams, the identity header,
 * and the headers that must agree with the body. Real clients, real servers, over HTTP.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { type Agent, connectAgent } from './gateway-fixtures/agents.js';
import {
  errorDetails,
  type FixtureHttp,
  type GatewayHarness,
  startFixtureHttp,
  startGateway,
  stdioFixture,
  textOf,
} from './gateway-fixtures/harness.js';
import { IDENTITY_HEADER, type ModernFixture, startModernFixture } from './gateway-fixtures/server-v2.js';

const ALLOW_ALL = { version: '1', default: 'allow' };
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const answers = {
  elicit: () => ({ action: 'accept', content: { ok: true, name: 'Grace' } }),
  sample: () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'yes' } }),
  roots: () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }),
};

async function modernFixture(shape: Parameters<typeof startModernFixture>[0]): Promise<ModernFixture> {
  const fixture = await startModernFixture(shape);
  closers.push(() => fixture.close());
  return fixture;
}

async function legacyFixture(): Promise<FixtureHttp> {
  const fixture = await startFixtureHttp();
  closers.push(() => fixture.stop());
  return fixture;
}

async function gateway(servers: Record<string, unknown>, grants = ['alice']): Promise<GatewayHarness> {
  const h = await startGateway({
    servers,
    grants: Object.fromEntries(grants.map((g) => [g, { servers: Object.keys(servers) }])),
  });
  closers.push(() => h.close());
  await h.listen();
  return h;
}

async function agent(
  h: GatewayHarness,
  server: string,
  kind: Agent['kind'],
  grant = 'alice',
): Promise<Agent> {
  const a = await connectAgent(`${h.http?.url}/servers/${server}/mcp`, h.tokens[grant], kind, answers);
  closers.push(() => a.close());
  return a;
}

describe('2026-era agents', () => {
  it(verifies('gateway.era.modern-passthrough'), async () => {
    const fx = await modernFixture('modern');
    const h = await gateway({
      m: {
        transport: 'http',
        url: fx.url,
        policy: { version: '1', default: 'allow', hide: ['echo'] },
      },
    });
    const a = await agent(h, 'm', 'v2-2026');
    expect(a.era).toBe('modern');
    expect((a.raw as { getProtocolEra(): string }).getProtocolEra()).toBe('modern');
    // The policy filters the list; the rest passes as the upstream gave it.
    expect((await a.listTools()).map((t) => t.name)).toEqual([
      'whoami',
      'mqttDisconnect',
      'slow',
      'confirm',
      'askModel',
    ]);
    expect(errorDetails(await a.callTool('echo', { text: 'x' }))).toMatchObject({ rule: '(hidden)' });
    const progress: unknown[] = [];
    const slow = await a.callTool('slow', { ms: 20, steps: 2 }, { onprogress: (p) => progress.push(p) });
    expect(textOf(slow)).toBe('slept 20');
    expect(progress).toHaveLength(2);
    // An input_required round: the client answers the elicitation and retries, through the gateway.
    expect(textOf(await a.callTool('confirm', { action: 'deploy' }))).toBe('confirmed deploy');
    expect(textOf(await a.callTool('askModel', { prompt: 'q' }))).toBe('model said: yes');
    // A listen stream passes through; a policy reload tells it the tools changed.
    const client = a.raw as import('@modelcontextprotocol/client').Client;
    let changed = 0;
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      changed++;
    });
    const subscription = await client.listen({ toolsListChanged: true });
    expect(subscription.honoredFilter).toMatchObject({ toolsListChanged: true });
    fx.notifyToolsChanged();
    await vi.waitFor(() => expect(changed).toBe(1));
    await subscription.close();
  });

  it(verifies('gateway.era.modern-to-legacy'), async () => {
    const up = await legacyFixture();
    for (const transport of ['http', 'sse', 'stdio'] as const) {
      const server =
        transport === 'stdio'
          ? stdioFixture({ policy: ALLOW_ALL })
          : { transport, url: `${up.url}/${transport === 'http' ? 'mcp' : 'sse'}`, policy: ALLOW_ALL };
      const h = await gateway({ fx: server }, ['alice', 'bob']);
      const a = await agent(h, 'fx', 'v2-2026');
      expect((a.raw as { getServerVersion(): unknown }).getServerVersion()).toEqual({
        name: 'fixture-upstream',
        version: '1.2.3',
      });
      expect((await a.listTools()).map((t) => t.name)).toContain('sessionInfo');
      // One upstream session per grant: a second agent of alice's continues it, bob's is its own.
      const first = (await a.callTool('sessionInfo')).structuredContent as { calls: number };
      const a2 = await agent(h, 'fx', 'v2-2026');
      expect((await a2.callTool('sessionInfo')).structuredContent).toMatchObject({ calls: first.calls + 1 });
      const b = await agent(h, 'fx', 'v2-2026', 'bob');
      expect((await b.callTool('sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
      // What a 2025-era server asks mid-call comes to the 2026-era agent as input_required rounds.
      expect(textOf(await a.callTool('askUser')), transport).toBe(
        'user said: accept {"ok":true,"name":"Grace"}',
      );
      expect(textOf(await a.callTool('askModel', { prompt: 'hi' })), transport).toBe('model said: yes');
      expect(textOf(await a.callTool('listRoots')), transport).toBe('file:///work');
      const progress: unknown[] = [];
      const slow = await a.callTool('slow', { ms: 20, steps: 2 }, { onprogress: (p) => progress.push(p) });
      expect(textOf(slow), transport).toBe('slept 20');
      expect(progress.length, transport).toBeGreaterThanOrEqual(1);
      // listen: served from the upstream session's own notifications.
      const client = a.raw as import('@modelcontextprotocol/client').Client;
      const updated: string[] = [];
      client.setNotificationHandler('notifications/resources/updated', (n) => {
        updated.push(n.params.uri);
      });
      const subscription = await client.listen({ resourceSubscriptions: ['fixture://greeting'] });
      expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: ['fixture://greeting'] });
      expect(textOf(await a.callTool('touch', { uri: 'fixture://greeting' })), transport).toBe('notified');
      await vi.waitFor(() => expect(updated).toEqual(['fixture://greeting']));
      await subscription.close();
    }
  });

  it(verifies('gateway.era.header-mismatch'), async () => {
    const fx = await modernFixture('modern');
    const h = await gateway({
      m: { transport: 'http', url: fx.url, policy: { version: '1', default: 'deny', tools: { whoami: {} } } },
    });
    const envelope = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const post = (headers: Record<string, string>, name: string) =>
      fetch(`${h.http?.url}/servers/m/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${h.tokens.alice}`,
          ...headers,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name, arguments: {}, _meta: envelope },
        }),
      });
    const agreeing = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' };
    // Mcp-Name names the allowed tool, the body the denied one: refused before any decision.
    const lying = await post({ ...agreeing, 'mcp-name': 'whoami' }, 'mqttDisconnect');
    expect(lying.status).toBe(400);
    expect(((await lying.json()) as { error: { code: number } }).error.code).toBe(-32020);
    const method = await post({ ...agreeing, 'mcp-method': 'tools/list', 'mcp-name': 'whoami' }, 'whoami');
    expect(method.status).toBe(400);
    expect(((await method.json()) as { error: { code: number } }).error.code).toBe(-32020);
    const version = await post(
      { ...agreeing, 'mcp-protocol-version': '2025-11-25', 'mcp-name': 'whoami' },
      'whoami',
    );
    expect(version.status).toBe(400);
    expect(((await version.json()) as { error: { code: number } }).error.code).toBe(-32020);
    expect(fx.calls.size).toBe(0);
    // Agreeing headers: the body decides, and the call goes through.
    const fine = await post({ ...agreeing, 'mcp-name': 'whoami' }, 'whoami');
    expect(fine.status).toBe(200);
    expect(await fine.text()).toContain('"calls":1');
  });
});

describe('2025-era agents in front of 2026-only upstreams', () => {
  it(verifies('gateway.era.legacy-to-modern'), async () => {
    for (const shape of ['modern', 'stateless'] as const) {
      const fx = await modernFixture(shape);
      const h = await gateway({
        m: { transport: 'http', url: fx.url, policy: ALLOW_ALL, identityHeader: IDENTITY_HEADER },
      });
      for (const kind of ['v1', 'v2-2025'] as const) {
        const a = await agent(h, 'm', kind);
        expect(a.sessionId(), `${shape} ${kind}`).toBeDefined();
        // State per session: the upstream keeps it under the session's identity.
        const one = (await a.callTool('whoami')).structuredContent as { identity: string; calls: number };
        expect((await a.callTool('whoami')).structuredContent).toMatchObject({ calls: one.calls + 1 });
        expect(one.identity).toBe(`alice/${a.sessionId()}`);
        const progress: unknown[] = [];
        const slow = await a.callTool('slow', { ms: 20, steps: 2 }, { onprogress: (p) => progress.push(p) });
        expect(textOf(slow)).toBe('slept 20');
        expect(progress).toHaveLength(2);
        // input_required rounds become server-to-client requests on the call's own stream.
        expect(textOf(await a.callTool('confirm', { action: 'x' })), `${shape} ${kind}`).toBe('confirmed x');
        expect(textOf(await a.callTool('askModel', { prompt: 'q' }))).toBe('model said: yes');
        expect(await a.readResource('fixture://greeting')).toMatchObject({
          contents: [{ uri: 'fixture://greeting', text: 'hello from modern' }],
        });
      }
    }
  });

  it('passes the log level a 2025-era agent sets, and notifications, to it', async () => {
    const fx = await modernFixture('modern');
    const h = await gateway({ m: { transport: 'http', url: fx.url, policy: ALLOW_ALL } });
    const a = await agent(h, 'm', 'v1');
    const client = a.raw as import('@modelcontextprotocol/sdk/client/index.js').Client;
    const {
      LoggingMessageNotificationSchema,
      ResourceUpdatedNotificationSchema,
      ToolListChangedNotificationSchema,
    } = await import('@modelcontextprotocol/sdk/types.js');
    const logs: unknown[] = [];
    let changed = 0;
    const updated: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    await a.callTool('slow', { ms: 2, steps: 1 });
    expect(logs).toEqual([]); // no level set: a 2026-era server sends none
    await client.setLoggingLevel('info');
    await a.callTool('slow', { ms: 2, steps: 1 });
    expect(logs).toEqual(['slow started']);
    await client.subscribeResource({ uri: 'fixture://greeting' });
    // The upstream listen stream follows the agent's GET stream; give it a moment to be acknowledged.
    await vi.waitFor(
      () => {
        fx.notifyResourceUpdated('fixture://greeting');
        expect(updated.length).toBeGreaterThan(0);
      },
      { interval: 100 },
    );
    fx.notifyToolsChanged();
    await vi.waitFor(() => expect(changed).toBeGreaterThan(0));
  });
});

describe('identity towards the upstream', () => {
  it(verifies('gateway.identity.header'), async () => {
    const fx = await modernFixture('modern');
    const h = await gateway(
      { m: { transport: 'http', url: fx.url, policy: ALLOW_ALL, identityHeader: IDENTITY_HEADER } },
      ['alice', 'bob'],
    );
    const whoami = async (a: Agent) =>
      ((await a.callTool('whoami')).structuredContent as { identity: string }).identity;
    const modernAlice = await agent(h, 'm', 'v2-2026');
    const modernAlice2 = await agent(h, 'm', 'v2-2026');
    const modernBob = await agent(h, 'm', 'v2-2026', 'bob');
    const legacyAlice = await agent(h, 'm', 'v1');
    const legacyAlice2 = await agent(h, 'm', 'v1');
    expect(await whoami(modernAlice)).toBe('alice');
    expect(await whoami(modernAlice2)).toBe('alice');
    expect(await whoami(modernBob)).toBe('bob');
    const sessions = [await whoami(legacyAlice), await whoami(legacyAlice2)];
    expect(sessions[0]).toBe(`alice/${legacyAlice.sessionId()}`);
    expect(sessions[1]).toBe(`alice/${legacyAlice2.sessionId()}`);
    expect(sessions[0]).not.toBe(sessions[1]);
    // Each identity has state of its own upstream.
    expect(fx.calls.get('alice')).toBe(2);
    expect(fx.calls.get('bob')).toBe(1);
  });
});

describe('upstream era discovery', () => {
  it(verifies('gateway.era.discover'), async () => {
    const fx = await startModernFixture('stateless');
    const port = fx.host.port;
    const h = await gateway({ m: { transport: 'http', url: fx.url, policy: ALLOW_ALL } });
    const a = await agent(h, 'm', 'v2-2026');
    await a.callTool('whoami');
    await (await agent(h, 'm', 'v2-2026')).callTool('whoami');
    await (await agent(h, 'm', 'v1')).callTool('whoami');
    // Found once, for every agent of either era.
    expect(fx.methods.filter((m) => m === 'server/discover').length).toBe(
      // each v2 client's own connect probes once; the gateway adds exactly one
      2 + 1,
    );
    // The upstream is replaced by a 2025-only server on the same port: found again.
    await fx.close();
    const failed = await a.callTool('whoami');
    expect(failed.isError).toBe(true);
    expect(errorDetails(failed)?.code).toBe('UPSTREAM_UNAVAILABLE');
    const legacy = await startFixtureHttp(port);
    closers.push(() => legacy.stop());
    expect((await a.callTool('sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
  });
});
