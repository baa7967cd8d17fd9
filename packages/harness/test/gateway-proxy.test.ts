/**
 * The gateway as a transparent proxy: with an allow-all policy, what the agent sees and does is what
 * it would see and do talking to the upstream itself, in both directions.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type Progress,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { AGENT_KINDS, type AgentKind } from './gateway-fixtures/agents.js';
import {
  call,
  type FixtureHttp,
  type GatewayHarness,
  startFixtureHttp,
  startGateway,
  stdioFixture,
  textOf,
} from './gateway-fixtures/harness.js';

const ALLOW_ALL = { version: '1', default: 'allow' };
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

async function gatewayTo(kind: 'http' | 'sse' | 'stdio' = 'http', agentKind: AgentKind = 'v1') {
  const server =
    kind === 'stdio'
      ? stdioFixture({ policy: ALLOW_ALL })
      : kind === 'http'
        ? { transport: 'http', url: `${upstream.url}/mcp`, policy: ALLOW_ALL }
        : { transport: 'sse', url: `${upstream.url}/sse`, policy: ALLOW_ALL };
  harness = await startGateway(
    { servers: { fx: server }, grants: { alice: { servers: ['fx'] } } },
    { agentKind },
  );
  return harness;
}

/** The same fixture, reached directly: what the gateway must look like. */
async function direct(): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${upstream.url}/mcp`)));
  return client;
}

/**
 * A result without what the 2026 era adds to every result (the cache hints, the server's identity in
 * `_meta`), for comparing a 2026-era agent's view with a 2025-era client's of the same upstream.
 */
function core<T>(result: T): T {
  if (result === null || typeof result !== 'object') return result;
  const { ttlMs: _t, cacheScope: _c, _meta, ...rest } = result as Record<string, unknown>;
  const meta = { ...(_meta as Record<string, unknown> | undefined) };
  delete meta['io.modelcontextprotocol/serverInfo'];
  return (Object.keys(meta).length > 0 ? { ...rest, _meta: meta } : rest) as T;
}

describe.each(AGENT_KINDS)('gateway as a transparent proxy (%s client)', (kind) => {
  it(verifies('gateway.proxy.mirror'), async () => {
    const h = await gatewayTo('http', kind);
    const viaGateway = await h.connect('fx', 'alice');
    const plain = await direct();
    try {
      expect(viaGateway.getServerCapabilities()).toEqual(plain.getServerCapabilities());
      expect(viaGateway.getServerVersion()).toEqual({ name: 'fixture-upstream', version: '1.2.3' });
      expect(viaGateway.getInstructions()).toBe('A fixture upstream for the gateway tests.');
      // With an allow-all policy the tool list is the upstream's, definitions included (the 2026
      // era has no tasks: its client keeps no `execution.taskSupport`).
      const tools = (await plain.listTools()).tools.map(({ execution, ...rest }) =>
        kind === 'v2-2026' ? rest : { ...rest, ...(execution === undefined ? {} : { execution }) },
      );
      expect((await viaGateway.listTools()).tools).toEqual(tools);
    } finally {
      await plain.close();
    }
  });

  it(verifies('gateway.proxy.passthrough'), async () => {
    const h = await gatewayTo('http', kind);
    const agent = await h.connect('fx', 'alice');
    const plain = await direct();
    try {
      expect(core(await agent.listResources())).toEqual(await plain.listResources());
      expect(core(await agent.listResourceTemplates())).toEqual(await plain.listResourceTemplates());
      expect(core(await agent.readResource({ uri: 'fixture://greeting' }))).toEqual({
        contents: [{ uri: 'fixture://greeting', text: 'hello from upstream' }],
      });
      expect((await agent.readResource({ uri: 'fixture://items/42' })).contents).toEqual([
        { uri: 'fixture://items/42', text: 'item 42' },
      ]);
      expect(core(await agent.listPrompts())).toEqual(await plain.listPrompts());
      expect(core(await agent.getPrompt({ name: 'greet', arguments: { name: 'Ada' } }))).toEqual(
        await plain.getPrompt({ name: 'greet', arguments: { name: 'Ada' } }),
      );
      const completion = await agent.complete({
        ref: { type: 'ref/resource', uri: 'fixture://items/{id}' },
        argument: { name: 'id', value: 'ap' },
      });
      expect(completion.completion.values).toEqual(['apple', 'apricot']);
      const promptCompletion = await agent.complete({
        ref: { type: 'ref/prompt', name: 'greet' },
        argument: { name: 'name', value: 'A' },
      });
      expect(promptCompletion.completion.values).toEqual(['Ada', 'Alan']);
      // The 2026 era defines no ping (a liveness check is not part of it).
      if (kind !== 'v2-2026') expect(await agent.ping()).toEqual({});
    } finally {
      await plain.close();
    }
  });
});

describe('gateway as a transparent proxy', () => {
  it(verifies('gateway.proxy.logging-progress'), async () => {
    const h = await gatewayTo();
    const agent = await h.connect('fx', 'alice');
    const logs: unknown[] = [];
    agent.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    const progress: Progress[] = [];
    const result = await agent.callTool({ name: 'slow', arguments: { ms: 20, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    expect(textOf(result as never)).toBe('slept 20');
    expect(progress.map((p) => [p.progress, p.total, p.message])).toEqual([
      [1, 3, 'step 1'],
      [2, 3, 'step 2'],
      [3, 3, 'step 3'],
    ]);
    await vi.waitFor(() => expect(logs).toContain('slow started'));
    // setLevel goes upstream: below 'error', the upstream itself stops sending info messages.
    await agent.setLoggingLevel('error');
    logs.length = 0;
    await call(agent, 'slow', { ms: 1, steps: 1 });
    await call(agent, 'sessionInfo');
    expect(logs).toEqual([]);
  });

  it(verifies('gateway.proxy.cancel'), async () => {
    const h = await gatewayTo();
    const agent = await h.connect('fx', 'alice');
    const controller = new AbortController();
    const running = agent.callTool({ name: 'slow', arguments: { ms: 30_000, steps: 1 } }, undefined, {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort('changed my mind');
    await expect(running).rejects.toThrow(/changed my mind/);
    // The upstream stopped too (its handler saw the abort), and the session goes on.
    expect((await call(agent, 'sessionInfo')).structuredContent).toMatchObject({ calls: 2 });
  });

  it(verifies('gateway.proxy.server-requests'), async () => {
    const h = await gatewayTo();
    const agent = await h.connect('fx', 'alice', {
      capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } },
    });
    agent.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      const asked = request.params.messages[0]?.content;
      return {
        role: 'assistant',
        model: 'test-model',
        content: { type: 'text', text: `echo:${asked !== undefined && 'text' in asked ? asked.text : '?'}` },
      };
    });
    agent.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Grace' },
    }));
    agent.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: 'file:///work', name: 'work' }],
    }));
    expect(textOf(await call(agent, 'askModel', { prompt: 'hi' }))).toBe('model said: echo:hi');
    expect(textOf(await call(agent, 'askUser'))).toBe('user said: accept {"name":"Grace"}');
    expect(textOf(await call(agent, 'listRoots'))).toBe('file:///work');
  });

  it(verifies('gateway.proxy.notifications'), async () => {
    const h = await gatewayTo();
    const agent = await h.connect('fx', 'alice');
    let toolListChanged = 0;
    const updated: string[] = [];
    agent.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      toolListChanged++;
    });
    agent.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    await call(agent, 'addTool', { name: 'freshTool' });
    await vi.waitFor(() => expect(toolListChanged).toBe(1));
    expect((await agent.listTools()).tools.map((t) => t.name)).toContain('freshTool');
    // The gateway sees the new tool too: it forwards only tools the upstream offers.
    expect(textOf(await call(agent, 'freshTool'))).toBe('freshTool ran');
    await agent.subscribeResource({ uri: 'fixture://greeting' });
    expect(textOf(await call(agent, 'touch', { uri: 'fixture://greeting' }))).toBe('notified');
    await vi.waitFor(() => expect(updated).toEqual(['fixture://greeting']));
    await agent.unsubscribeResource({ uri: 'fixture://greeting' });
    expect(textOf(await call(agent, 'touch', { uri: 'fixture://greeting' }))).toBe('not subscribed');
  });

  it(verifies('gateway.proxy.session-per-agent'), async () => {
    const h = await gatewayTo();
    const before = upstream.sessionsOpened;
    const a = await h.connect('fx', 'alice');
    const b = await h.connect('fx', 'alice');
    expect(upstream.sessionsOpened - before).toBe(2);
    await call(a, 'sessionInfo');
    await call(a, 'sessionInfo');
    expect((await call(a, 'sessionInfo')).structuredContent).toMatchObject({ calls: 3 });
    expect((await call(b, 'sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
    const open = upstream.host.sessionCount();
    await a.close();
    await vi.waitFor(() => expect(upstream.host.sessionCount()).toBe(open - 1));
    expect((await call(b, 'sessionInfo')).structuredContent).toMatchObject({ calls: 2 });
  });
});

describe('gateway transports', () => {
  it(verifies('gateway.proxy.transports'), async () => {
    for (const upstreamKind of ['http', 'sse', 'stdio'] as const) {
      const h = await gatewayTo(upstreamKind);
      for (const agentKind of ['streamable', 'sse'] as const) {
        const agent = await h.connectHttp('fx', h.tokens.alice, agentKind, {
          capabilities: { sampling: {} },
        });
        agent.setRequestHandler(CreateMessageRequestSchema, async () => ({
          role: 'assistant',
          model: 'm',
          content: { type: 'text', text: 'yes' },
        }));
        const progress: Progress[] = [];
        const slow = await agent.callTool({ name: 'slow', arguments: { ms: 10, steps: 2 } }, undefined, {
          onprogress: (p) => progress.push(p),
        });
        expect(textOf(slow as never), `${agentKind} -> ${upstreamKind}`).toBe('slept 10');
        // The SDK's legacy SSE client handles a notification a microtask after a response read in
        // the same chunk, so it drops a last progress step glued to the answer, as it does talking to
        // the fixture directly; the first step must arrive either way.
        if (agentKind === 'streamable') expect(progress, `${agentKind} -> ${upstreamKind}`).toHaveLength(2);
        expect(progress[0], `${agentKind} -> ${upstreamKind}`).toMatchObject({ progress: 1, total: 2 });
        expect(textOf(await call(agent, 'askModel', { prompt: 'q' }))).toBe('model said: yes');
        expect((await agent.readResource({ uri: 'fixture://greeting' })).contents[0]).toMatchObject({
          text: 'hello from upstream',
        });
      }
      await h.close();
      harness = undefined;
    }
  });
});
