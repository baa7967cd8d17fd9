/**
 * The shipped topology itself (issue 11 item 5), on the container tier only: the images built by
 * scripts/build-images.sh run as non-root with a health check, and the one published port (nginx)
 * serves both servers and spreads agents over every gateway replica. The scenarios of
 * replicas-e2e.test.ts then run on the same topology.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import { afterAll, expect, it } from 'vitest';
import { MODERN, RawMcpAgent, tally } from '../src/replicas/raw-agent.js';
import { verifies } from '../src/requirements/index.js';
import {
  OPEN_SERVER,
  type ReplicaTopology,
  replicaProviders,
  SCENARIO_TOOL,
  SSH_SERVER,
} from '../src/targets/replicas/index.js';
import { describeEachTier, type TierContext } from '../src/testing/tiers.js';

const run = promisify(execFile);

const IMAGE_VARIABLES = [
  'BASTION_GATEWAY_IMAGE',
  'BASTION_MQTT_IMAGE',
  'BASTION_SSH_IMAGE',
  'BASTION_LB_IMAGE',
];

interface ImageConfig {
  User?: string;
  Healthcheck?: { Test?: string[] } | null;
}

async function imageConfig(image: string): Promise<ImageConfig> {
  const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{json .Config}}', image]);
  return JSON.parse(stdout) as ImageConfig;
}

/** decisions_total of `server` on one replica's /metrics (all decisions, any tool). */
function decisions(metrics: string, server: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('bastion_gateway_decisions_total{') || !line.includes(`server="${server}"`))
      continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describeEachTier(
  'the replicas container topology',
  replicaProviders().filter((p) => p.tier === 'container'),
  (ctx: TierContext<ReplicaTopology>) => {
    const agents: RawMcpAgent[] = [];
    afterAll(() => {
      for (const a of agents) a.close();
    });

    it(verifies('replicas.containers.topology'), async () => {
      const t = ctx.target();
      expect(t.balancer).toBeDefined();
      const balancer = t.balancer as string;

      // Every image: a user that is not root, and a health check.
      for (const variable of IMAGE_VARIABLES) {
        const image = process.env[variable] as string;
        const config = await imageConfig(image);
        expect(config.User ?? '', image).not.toMatch(/^(|root|0)(:.*)?$/);
        expect(config.Healthcheck?.Test?.length ?? 0, image).toBeGreaterThan(0);
      }

      // Both servers through the one published port: bastion-ssh's tools are listed via the balancer.
      const ssh = new RawMcpAgent({ bases: [balancer], server: SSH_SERVER, token: t.token });
      agents.push(ssh);
      const listed = await ssh.post(
        balancer,
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/list',
          params: {
            _meta: {
              [PROTOCOL_VERSION_META_KEY]: MODERN,
              [CLIENT_CAPABILITIES_META_KEY]: {},
              [CLIENT_INFO_META_KEY]: { name: 'bastion-replicas-agent', version: '1.0.0' },
            },
          },
        },
        { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' },
      );
      expect(listed.status, listed.text).toBe(200);
      const tools = ((listed.message?.result as { tools?: Array<{ name: string }> })?.tools ?? []).map(
        (tool) => tool.name,
      );
      expect(tools).toContain('disconnect');

      // bastion-mqtt too, and the balancer spreads the calls over every replica.
      const before = await Promise.all(t.replicas.map((_, i) => t.metrics(i)));
      const mqtt = new RawMcpAgent({ bases: [balancer], server: OPEN_SERVER, token: t.token });
      agents.push(mqtt);
      const calls = 60;
      const outcomes = await Promise.all(Array.from({ length: calls }, () => mqtt.modernCall(SCENARIO_TOOL)));
      expect(tally(outcomes)).toEqual({ admitted: calls });
      const served = await Promise.all(
        t.replicas.map(
          async (_, i) =>
            decisions(await t.metrics(i), OPEN_SERVER) - decisions(before[i] as string, OPEN_SERVER),
        ),
      );
      process.stdout.write(
        `replicas: [container] ${calls} calls through the balancer served per replica: ${served.join(', ')}; ssh tools listed: ${tools.length}\n`,
      );
      expect(served.reduce((a, b) => a + b, 0)).toBe(calls);
      for (const [i, n] of served.entries()) expect(n, `replica ${t.replicaIds[i]}`).toBeGreaterThan(0);
    }, 120_000);
  },
);
