/**
 * The MCP server processes as reconnect targets: each bin (bastion-mqtt, bastion-ssh over HTTP, and
 * bastion-gateway) killed with SIGKILL or stopped with SIGTERM comes back on the same port and serves
 * new sessions; SIGTERM is a clean shutdown (exit code 0).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGrantToken } from '@bastion/gateway';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import {
  BASTION_BINS,
  type McpServerProcess,
  startGatewayProcess,
  startMqttServerProcess,
  startSshServerProcess,
} from '../src/targets/mcp-process.js';
import { makeTempDir } from '../src/targets/run-scope.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';

interface ServerUnderTest {
  process: McpServerProcess;
  /** The MCP endpoint path and the headers a client needs. */
  path: string;
  headers: Record<string, string>;
  /** A tool the server lists. */
  tool: string;
  stop(): Promise<void>;
}

function provider(name: string, start: () => Promise<ServerUnderTest>): TargetProvider<ServerUnderTest> {
  return { kind: name, tier: 'process', availability: () => ({ available: true }), start };
}

const providers = [
  provider('bastion-mqtt', async () => {
    const server = await startMqttServerProcess();
    return { process: server, path: '/mcp', headers: {}, tool: 'mqttConnect', stop: () => server.stop() };
  }),
  provider('bastion-ssh', async () => {
    const server = await startSshServerProcess();
    return { process: server, path: '/mcp', headers: {}, tool: 'exec', stop: () => server.stop() };
  }),
  provider('bastion-gateway', async () => {
    const dir = await makeTempDir('bastion-gateway-process-');
    const { token, tokenSha256 } = createGrantToken();
    const config = join(dir, 'gateway.json');
    await writeFile(
      config,
      JSON.stringify({
        servers: {
          mqtt: {
            transport: 'stdio',
            command: process.execPath,
            args: [BASTION_BINS.mqtt],
            policy: { version: '1', default: 'allow' },
          },
        },
        grants: { agent: { tokenSha256, servers: ['mqtt'] } },
      }),
    );
    const gateway = await startGatewayProcess(config, ['--no-check']);
    return {
      process: gateway,
      path: '/servers/mqtt/mcp',
      headers: { authorization: `Bearer ${token}` },
      tool: 'mqttConnect',
      async stop() {
        await gateway.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }),
];

for (const p of providers) {
  describeEachTier(`MCP server process ${p.kind}`, [p], (ctx) => {
    async function listsTools(): Promise<void> {
      const t = ctx.target();
      const client = new Client({ name: 'process-target', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${t.process.url}${t.path}`), {
          requestInit: { headers: t.headers },
        }),
      );
      try {
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toContain(t.tool);
      } finally {
        await client.close();
      }
    }

    it(verifies('reconnect.server.restart'), async () => {
      const t = ctx.target();
      const { port, url } = t.process;
      await listsTools();

      const killed = await t.process.kill('SIGKILL');
      expect(killed).toEqual({ code: null, signal: 'SIGKILL' });
      await t.process.start();
      expect([t.process.port, t.process.url]).toEqual([port, url]);
      await listsTools();

      const stopped = await t.process.kill('SIGTERM');
      expect(stopped).toEqual({ code: 0, signal: null });
      await t.process.start();
      expect(t.process.url).toBe(url);
      await listsTools();
    });
  });
}
