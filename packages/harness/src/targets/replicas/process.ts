/**
 * The replicas topology on the process tier: redis-server, bastion-mqtt over HTTP, and N
 * `bastion-gateway` processes started from one config file, each with its own replica id (and, for
 * the clock-skew scenario, its own clock offset), all pointing at the one Redis. Agents reach each
 * replica on its own loopback port: the scenarios choose which replica a request goes to (the
 * container tier adds the load balancer in front).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type McpServerProcess, startGatewayProcess, startMqttServerProcess } from '../mcp-process.js';
import { findBinary } from '../process.js';
import { redisProcessProvider } from '../redis/index.js';
import { makeTempDirSync } from '../run-scope.js';
import {
  type ReplicaTopology,
  type ReplicaTopologyOptions,
  replicasGatewayConfig,
  scenarioGrant,
} from './types.js';

export function replicaProcessAvailability() {
  return findBinary('redis-server')
    ? ({ available: true } as const)
    : ({
        available: false,
        reason: 'redis-server is not on PATH (Debian: apt-get install redis-server)',
      } as const);
}

export async function startProcessReplicas(options: ReplicaTopologyOptions = {}): Promise<ReplicaTopology> {
  const count = options.replicas ?? 3;
  const dir = makeTempDirSync('replicas-');
  const redis = await redisProcessProvider.start();
  const started: Array<{ stop(): Promise<void> }> = [redis];
  try {
    const mqtt = await startMqttServerProcess();
    started.push(mqtt);
    const { token, tokenSha256 } = scenarioGrant();
    const configFile = join(dir, 'gateway.json');
    const config = replicasGatewayConfig(`${mqtt.url}/mcp`, tokenSha256, './audit/gateway.jsonl');
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const replicaIds = Array.from({ length: count }, (_, i) => `gw-${i + 1}`);
    const gateways: McpServerProcess[] = [];
    for (const [i, id] of replicaIds.entries()) {
      const offset = options.clockOffsetsMs?.[i];
      const gateway = await startGatewayProcess(configFile, ['--host', '127.0.0.1'], {
        ...process.env,
        BASTION_REDIS_URL: redis.url,
        BASTION_REPLICA_ID: id,
        ...(offset === undefined ? {} : { BASTION_GATEWAY_CLOCK_OFFSET_MS: String(offset) }),
      });
      gateways.push(gateway);
      started.push(gateway);
    }
    const auditDir = join(dir, 'audit');
    return {
      tier: 'process',
      replicas: gateways.map((g) => g.url),
      balancer: undefined,
      replicaIds,
      token,
      auditDir,
      killReplica: async (i) => void (await (gateways[i] as McpServerProcess).kill('SIGKILL')),
      startReplica: (i) => (gateways[i] as McpServerProcess).start(),
      redisDown: () => redis.down(),
      redisUp: () => redis.up(),
      async metrics(i) {
        const res = await fetch(`${(gateways[i] as McpServerProcess).url}/metrics`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return res.text();
      },
      async auditLogs() {
        const logs = new Map<string, string>();
        for (const name of await readdir(auditDir)) {
          const id = replicaIds.find((r) => name === `gateway.${r}.jsonl`);
          if (id !== undefined) logs.set(id, await readFile(join(auditDir, name), 'utf8'));
        }
        return logs;
      },
      async stop() {
        // Gateways first (they drain into Redis and the upstream), then what they used.
        await Promise.all(gateways.map((g) => g.stop()));
        await mqtt.stop();
        await redis.stop();
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
    throw err;
  }
}
