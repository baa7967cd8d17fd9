/**
 * Upstreams that go away: an HTTP upstream restarted on the same port (its sessions answer 404), one
 * stopped with a call in flight, and a stdio upstream that exits. The agent's session survives each;
 * a call caught in flight gets a clear isError, never a hang.
 */
import type { Client as V2Client } from '@modelcontextprotocol/client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { AGENT_KINDS, type AgentKind } from './gateway-fixtures/agents.js';
import {
  call,
  errorDetails,
  type FixtureHttp,
  type GatewayHarness,
  reconnects,
  startFixtureHttp,
  startGateway,
  stdioFixture,
  textOf,
} from './gateway-fixtures/harness.js';

const ALLOW_ALL = { version: '1', default: 'allow' };
let harness: GatewayHarness | undefined;
let upstream: FixtureHttp | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await upstream?.stop();
  upstream = undefined;
});

async function overHttp() {
  upstream = await startFixtureHttp();
  harness = await startGateway(
    {
      servers: { fx: { transport: 'http', url: `${upstream.url}/mcp`, policy: ALLOW_ALL } },
      grants: { alice: { servers: ['fx'] } },
    },
    { agentKind },
  );
  return { h: harness, up: upstream };
}

/** Each test runs once per official client and era (a 2026-era agent's session is its grant's). */
let agentKind: AgentKind = 'v1';

/** A call with a progress callback, through the client's own callTool (v1 and v2 take it apart). */
function callWithProgress(
  agent: Client,
  name: string,
  args: Record<string, unknown>,
  onprogress: () => void,
): Promise<CallToolResult> {
  const params = { name, arguments: args };
  if (agentKind === 'v1') return agent.callTool(params, undefined, { onprogress }) as Promise<CallToolResult>;
  const v2 = agent as unknown as V2Client;
  return v2.callTool(params, { onprogress }) as Promise<CallToolResult>;
}

describe.each(AGENT_KINDS)('upstream reconnect (%s client)', { timeout: 90_000 }, (kind) => {
  beforeAll(() => {
    agentKind = kind;
  });

  it(verifies('gateway.reconnect.http-restart'), async () => {
    const { h, up } = await overHttp();
    const agent = await h.connect('fx', 'alice');
    await call(agent, 'sessionInfo');
    expect((await call(agent, 'sessionInfo')).structuredContent).toMatchObject({ calls: 2 });
    await up.stop();
    await up.restart();
    // The next call finds the old session gone (404) and goes to a fresh one without the agent noticing.
    const after = await call(agent, 'sessionInfo');
    expect(after.isError).toBeFalsy();
    expect(after.structuredContent).toMatchObject({ calls: 1 });
    expect(await reconnects(h, 'fx')).toBe(1);
    expect((await agent.readResource({ uri: 'fixture://greeting' })).contents).toHaveLength(1);
  });

  it(verifies('gateway.reconnect.in-flight'), async () => {
    const { h, up } = await overHttp();
    const agent = await h.connect('fx', 'alice');
    // Progress every 100 ms: the first one says the call runs upstream (a wait of its own would
    // not: on a loaded machine the call may not have left the gateway yet, and is then not sent).
    let progressed: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      progressed = resolve;
    });
    const running = callWithProgress(agent, 'slow', { ms: 60_000, steps: 600 }, () => progressed());
    await started;
    await up.stop();
    const caught = await running;
    expect(caught.isError).toBe(true);
    expect(textOf(caught)).toMatch(/^upstream restarted, call not completed/);
    expect(caught.structuredContent).toBeUndefined();
    expect(errorDetails(caught)).toEqual({ code: 'UPSTREAM_RESTARTED' });
    await up.restart();
    await vi.waitFor(async () => expect(await reconnects(h, 'fx')).toBe(1), { timeout: 10_000 });
    expect((await call(agent, 'sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
  });

  it(verifies('gateway.reconnect.stdio-exit', 'gateway.reconnect.in-flight'), async () => {
    harness = await startGateway(
      { servers: { fx: stdioFixture({ policy: ALLOW_ALL }) }, grants: { alice: { servers: ['fx'] } } },
      { agentKind },
    );
    const h = harness;
    const agent = await h.connect('fx', 'alice');
    const first = (await call(agent, 'sessionInfo')).structuredContent as { pid: number };

    // The process exits while answering: the call is reported, not left hanging.
    const caught = await call(agent, 'exitProcess');
    expect(caught.isError).toBe(true);
    expect(textOf(caught)).toMatch(/^upstream restarted, call not completed/);
    await vi.waitFor(async () => expect(await reconnects(h, 'fx')).toBe(1), { timeout: 15_000 });
    const second = (await call(agent, 'sessionInfo')).structuredContent as { pid: number; calls: number };
    expect(second.pid).not.toBe(first.pid);
    expect(second.calls).toBe(1);

    // Killed from outside between calls: a new process takes over before the next call.
    process.kill(second.pid, 'SIGKILL');
    await vi.waitFor(async () => expect(await reconnects(h, 'fx')).toBe(2), { timeout: 15_000 });
    const third = (await call(agent, 'sessionInfo')).structuredContent as { pid: number };
    expect(third.pid).not.toBe(second.pid);
  });
});
