/**
 * The gateway offers agents no MCP tasks, even in front of an upstream that serves them (bastion-ssh
 * over HTTP, against a real SSH host): a task answered by the upstream would be polled with
 * `tasks/get`, which the gateway does not serve, and its result would pass by the policy. So the
 * gateway shows neither the 2025 `tasks` capability nor the 2026 tasks extension, and a call that
 * asks for a task anyway (2025 `params.task`, or the extension in the 2026 per-request capabilities)
 * reaches the upstream as a plain call and gets the plain result.
 */
import type { McpHttpHost } from '@bastion/mcp-http';
import { createSshServerShared, parseConfig, startSshHttpServer } from '@bastion/ssh-server';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { sshHostProvidersWith } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectAgent } from './gateway-fixtures/agents.js';
import { type GatewayHarness, startGateway } from './gateway-fixtures/harness.js';
import { modernRpc, TASKS_EXTENSION } from './modern-rpc.js';
import { connectArgs } from './ssh-support.js';

describeEachTier('bastion-gateway withholds MCP tasks', sshHostProvidersWith(), (ctx) => {
  let ssh: McpHttpHost;
  let gateway: GatewayHarness;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    // Loopback without a token; an exec still running after 200 ms would be a task.
    const config = parseConfig({ transport: 'http', port: 0, logLevel: 'silent', taskAfterMs: 200 });
    ssh = await startSshHttpServer(config, {
      logger: pino({ level: 'silent' }),
      shared: await createSshServerShared(config),
    });
    gateway = await startGateway({
      servers: {
        ssh: { transport: 'http', url: `${ssh.url}/mcp`, policy: { version: '1', default: 'allow' } },
      },
      grants: { alice: { servers: ['ssh'] } },
    });
    await gateway.listen();
  });
  afterAll(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await gateway?.close();
    await ssh?.close();
  });

  const url = () => `${gateway.http?.url}/servers/ssh/mcp`;

  it(verifies('gateway.tasks.withheld'), async () => {
    // 2025 era: the official v1 client sees no tasks capability; a call with params.task anyway is plain.
    const agent = await connectAgent(url(), gateway.tokens.alice, 'v1', {});
    closers.push(() => agent.close());
    const client = agent.raw as Client;
    expect(client.getServerCapabilities()?.tasks).toBeUndefined();
    const connected = await agent.callTool('connect', connectArgs(ctx.target(), 'key'));
    const connectionId = (connected.structuredContent as { connectionId: string }).connectionId;
    const asTask = await client.request(
      {
        method: 'tools/call',
        params: {
          name: 'exec',
          arguments: { connectionId, command: 'sleep 0.5; echo plain-2025' },
          task: {},
        },
      },
      CallToolResultSchema,
    );
    expect(asTask).not.toHaveProperty('task');
    expect(asTask.structuredContent).toMatchObject({ stdout: 'plain-2025\n', exitCode: 0 });

    // 2026 era: discover shows no tasks extension; a call declaring it is answered with the result.
    const rpc = (method: string, params: Record<string, unknown>) =>
      modernRpc({ url: url(), token: gateway.tokens.alice ?? '', method, params });
    const discovered = await rpc('server/discover', {});
    expect(discovered.result?.capabilities).toBeDefined();
    expect(discovered.result?.capabilities).not.toMatchObject({ extensions: { [TASKS_EXTENSION]: {} } });
    const modern = await connectAgent(url(), gateway.tokens.alice, 'v2-2026', {});
    closers.push(() => modern.close());
    const modernConnection = (await modern.callTool('connect', connectArgs(ctx.target(), 'key')))
      .structuredContent as { connectionId: string };
    const call = await rpc('tools/call', {
      name: 'exec',
      arguments: { connectionId: modernConnection.connectionId, command: 'sleep 0.5; echo plain-2026' },
    });
    expect(call.result?.resultType).toBe('complete');
    expect(call.result?.structuredContent).toMatchObject({ stdout: 'plain-2026\n', exitCode: 0 });
  });
});
