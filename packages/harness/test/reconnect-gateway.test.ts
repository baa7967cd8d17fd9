/**
 * The reconnect suite, gateway side, with every part a real process: an agent (SDK client over
 * Streamable HTTP) -> bastion-gateway -> bastion-mqtt -> a broker of each tier.
 *   - the upstream bastion-mqtt crashes (SIGKILL) or is stopped (SIGTERM) and comes back on its
 *     port: the agent's gateway session survives and its next call succeeds;
 *   - the gateway itself is restarted: its audit log stays one intact hash chain across the restart.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGrantToken } from '@bastion/gateway';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import {
  BASTION_BINS,
  type McpServerProcess,
  startGatewayProcess,
  startMqttServerProcess,
} from '../src/targets/mcp-process.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import type { FaultSignal } from '../src/targets/process.js';
import { makeTempDir } from '../src/targets/run-scope.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';
import { verifyAudit } from './gateway-fixtures/processes.js';
import { clientId, connectArgs, eventually, textOf } from './mqtt-helpers.js';

interface Agent {
  client: Client;
  transport: StreamableHTTPClientTransport;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

async function connectAgent(gateway: McpServerProcess, server: string, token: string): Promise<Agent> {
  const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/servers/${server}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'reconnect-agent', version: '1.0.0' });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    transport,
    call,
    async ok<T>(name: string, args: Record<string, unknown> = {}) {
      const result = await call(name, args);
      if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
      return result.structuredContent as T;
    },
    // The gateway may be gone by now: closing is best effort.
    close: () => client.close().catch(() => undefined),
  };
}

/** Writes a gateway config into a fresh directory; the grant's token comes back, never the file. */
async function gatewayConfig(servers: Record<string, unknown>, audit: boolean) {
  const dir = await makeTempDir('bastion-reconnect-gateway-');
  const { token, tokenSha256 } = createGrantToken();
  const file = join(dir, 'gateway.json');
  await writeFile(
    file,
    JSON.stringify({
      servers,
      grants: { agent: { tokenSha256, servers: Object.keys(servers) } },
      ...(audit ? { audit: 'audit.jsonl' } : {}),
    }),
  );
  return { dir, file, token, auditFile: join(dir, 'audit.jsonl') };
}

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

describeEachTier('reconnect: upstream MCP server crash behind the gateway', mqttBrokerProviders, (ctx) => {
  let upstream: McpServerProcess;
  let gateway: McpServerProcess;
  let setup: Awaited<ReturnType<typeof gatewayConfig>>;
  beforeAll(async () => {
    upstream = await startMqttServerProcess();
    setup = await gatewayConfig(
      { mqtt: { transport: 'http', url: `${upstream.url}/mcp`, policy: { version: '1', default: 'allow' } } },
      false,
    );
    gateway = await startGatewayProcess(setup.file);
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.stop();
    if (setup !== undefined) await rm(setup.dir, { recursive: true, force: true });
  });

  /** Through the whole chain: connect to the broker, subscribe, publish, read it back. */
  async function roundTrip(agent: Agent, topic: string): Promise<void> {
    const connection = `c-${clientId('gw')}`;
    await agent.ok('mqttConnect', connectArgs(ctx.target(), 'mqtt', { connection }));
    await agent.ok('mqttSubscribe', { topic, qos: 1, connection });
    await agent.ok('mqttPublish', { topic, payload: 'through the gateway', qos: 1, connection });
    const read = await agent.ok<{ messages: Array<{ topic: string; payload: string }> }>('mqttReadMessages', {
      connection,
      waitMs: 10_000,
    });
    expect(read.messages).toMatchObject([{ topic, payload: 'through the gateway' }]);
  }

  async function openAgent(): Promise<Agent> {
    const agent = await connectAgent(gateway, 'mqtt', setup.token);
    agents.push(agent);
    expect(agent.transport.sessionId).toBeDefined();
    return agent;
  }

  async function crash(signal: FaultSignal): Promise<void> {
    const agent = await openAgent();
    const session = agent.transport.sessionId;
    await roundTrip(agent, `gw/${signal}/before`);
    const pid = upstream.pid;

    await upstream.kill(signal);
    await upstream.start();
    expect(upstream.pid).not.toBe(pid);

    // The same agent session, and its next call goes through to the new upstream process.
    const next = await agent.call('mqttStatus');
    expect(next.isError, textOf(next)).toBeFalsy();
    // A new upstream process has no broker connections of the old one.
    expect(next.structuredContent).toMatchObject({ connections: [] });
    expect(agent.transport.sessionId).toBe(session);
    await roundTrip(agent, `gw/${signal}/after`);
  }

  it(`${verifies('reconnect.gateway.upstream-crash')} (SIGKILL)`, () => crash('SIGKILL'));
  it(`${verifies('reconnect.gateway.upstream-crash')} (SIGTERM)`, () => crash('SIGTERM'));

  it(verifies('reconnect.gateway.upstream-down'), async () => {
    const agent = await openAgent();
    const session = agent.transport.sessionId;
    await upstream.kill('SIGKILL');
    try {
      // Nothing answers on the upstream's port. (UPSTREAM_RESTARTED when the gateway learns of the
      // loss with the call under way.)
      const during = await agent.call('mqttStatus');
      expect(during.isError).toBe(true);
      // The error-result convention: no structuredContent, the code in _meta["dev.bastion/error"].
      expect(during.structuredContent).toBeUndefined();
      expect((during._meta?.['dev.bastion/error'] as { code: string } | undefined)?.code).toMatch(
        /^UPSTREAM_(UNAVAILABLE|RESTARTED)$/,
      );
      expect(textOf(during)).toMatch(/^upstream /);
    } finally {
      await upstream.start();
    }
    // A call made once the upstream is back reconnects at once instead of waiting out the backoff.
    const back = await agent.call('mqttStatus');
    expect(back.isError, textOf(back)).toBeFalsy();
    expect(back.structuredContent).toMatchObject({ connections: [] });
    expect(agent.transport.sessionId).toBe(session);
    await roundTrip(agent, 'gw/down/after');
  });
});

interface AuditedGateway {
  gateway: McpServerProcess;
  token: string;
  auditFile: string;
  stop(): Promise<void>;
}

/** The gateway process itself as the target, in front of bastion-mqtt over stdio, with an audit log. */
const auditedGatewayProvider: TargetProvider<AuditedGateway> = {
  kind: 'bastion-gateway',
  tier: 'process',
  availability: () => ({ available: true }),
  async start() {
    const setup = await gatewayConfig(
      {
        mqtt: {
          transport: 'stdio',
          command: process.execPath,
          args: [BASTION_BINS.mqtt],
          policy: { version: '1', default: 'deny', tools: { mqttStatus: {} } },
        },
      },
      true,
    );
    const gateway = await startGatewayProcess(setup.file, ['--no-check']);
    return {
      gateway,
      token: setup.token,
      auditFile: setup.auditFile,
      async stop() {
        await gateway.stop();
        await rm(setup.dir, { recursive: true, force: true });
      },
    };
  },
};

type Row = { seq: number; prev: string; hash: string; tool: string; decision: string };

async function rows(file: string): Promise<Row[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
}

describeEachTier('reconnect: gateway restarted', [auditedGatewayProvider], (ctx) => {
  async function restartKeepsChain(signal: FaultSignal): Promise<void> {
    const t = ctx.target();
    const start = (await rows(t.auditFile)).length;
    const agent = await connectAgent(t.gateway, 'mqtt', t.token);
    agents.push(agent);
    expect((await agent.call('mqttStatus')).isError).toBeFalsy();
    expect((await agent.call('mqttPublish', { topic: 't', payload: 'x' })).isError).toBe(true);
    // Both rows are in the file before the gateway goes (a crash loses what was never written).
    await eventually(async () => ((await rows(t.auditFile)).length === start + 2 ? true : undefined), 'rows');

    const exit = await t.gateway.kill(signal);
    if (signal === 'SIGTERM') expect(exit).toEqual({ code: 0, signal: null });
    await t.gateway.start();

    // The old session died with the old process; the agent starts a new one.
    const again = await connectAgent(t.gateway, 'mqtt', t.token);
    agents.push(again);
    expect((await again.call('mqttStatus')).isError).toBeFalsy();
    await eventually(async () => ((await rows(t.auditFile)).length === start + 3 ? true : undefined), 'row');

    const verified = await verifyAudit(t.auditFile);
    expect(verified.code).toBe(0);
    expect(verified.out).toContain(`ok: ${start + 3} rows, chain intact`);
    expect(verified.out).toContain(`reaches its head checkpoint (seq ${start + 3})`);
    const all = await rows(t.auditFile);
    const [lastBefore, firstAfter] = all.slice(-2);
    expect(lastBefore).toMatchObject({ tool: 'mqttPublish', decision: 'deny' });
    expect(firstAfter).toMatchObject({ tool: 'mqttStatus', decision: 'allow' });
    expect(firstAfter?.prev).toBe(lastBefore?.hash);
    expect(firstAfter?.seq).toBe((lastBefore?.seq ?? 0) + 1);
  }

  it(`${verifies('reconnect.gateway.audit-restart')} (SIGTERM)`, () => restartKeepsChain('SIGTERM'));
  it(`${verifies('reconnect.gateway.audit-restart')} (SIGKILL)`, () => restartKeepsChain('SIGKILL'));
});
