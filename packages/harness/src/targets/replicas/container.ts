/**
 * The replicas topology on the container tier: what deploy/replicas/compose.yaml starts, started
 * through the Docker API (testcontainers), because `docker compose` is not on every machine (it is
 * not on this one): a network; Redis; bastion-mqtt and bastion-ssh, reachable by those names; N gateway replicas
 * sharing the network alias `gateways`; and nginx publishing one port in front of them. The images
 * are the ones scripts/build-images.sh builds (BASTION_*_IMAGE). Besides the balancer's port, each
 * replica's port is published on 127.0.0.1 for the harness alone, so that scenarios can send a
 * request to the replica they choose (the compose file publishes only the balancer).
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Network, type StartedNetwork } from 'testcontainers';
import type { Availability } from '../../testing/tiers.js';
import { dockerAvailability, imageFor, startTargetContainer, type TargetContainer } from '../container.js';
import { waitForGreeting } from '../process.js';
import { makeTempDirSync } from '../run-scope.js';
import {
  type ReplicaTopology,
  type ReplicaTopologyOptions,
  replicasGatewayConfig,
  SSH_SERVER,
  scenarioGrant,
} from './types.js';

const IMAGES = {
  gateway: ['BASTION_GATEWAY_IMAGE', 'local/bastion-gateway:dev'],
  mqtt: ['BASTION_MQTT_IMAGE', 'local/bastion-mqtt:dev'],
  ssh: ['BASTION_SSH_IMAGE', 'local/bastion-ssh:dev'],
  lb: ['BASTION_LB_IMAGE', 'local/bastion-lb:dev'],
} as const;

export function replicaContainerAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  const docker = dockerAvailability(env);
  if (!docker.available) return docker;
  const missing = Object.values(IMAGES)
    .map(([variable]) => variable)
    .filter((v) => env[v] === undefined || env[v] === '');
  return missing.length === 0
    ? { available: true }
    : {
        available: false,
        reason: `${missing.join(', ')} not set (eval "$(bash packages/harness/scripts/prepare-containers.sh)" builds the images)`,
      };
}

/** Resolves once `url` answers below 500 (each image's own health criterion). */
async function answers(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url}: ${last}`);
}

/** Resolves once the image's own HEALTHCHECK command passes inside the container. */
async function healthy(container: TargetContainer<string>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await container.exec(['/usr/local/bin/node', '/healthcheck.mjs']);
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`not healthy after ${timeoutMs} ms: ${(err as Error).message}\n${container.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startContainerReplicas(options: ReplicaTopologyOptions = {}): Promise<ReplicaTopology> {
  const count = options.replicas ?? 3;
  const dir = makeTempDirSync('replicas-ct-');
  const auditDir = join(dir, 'audit');
  await mkdir(auditDir, { recursive: true });
  // The gateways run as uid 10001 and write their logs here.
  await chmod(auditDir, 0o777);
  const network: StartedNetwork = await new Network().start();
  const started: TargetContainer<string>[] = [];
  try {
    const mqttToken = scenarioGrant().token;
    const redis = await startTargetContainer({
      name: 'redis',
      image: imageFor('BASTION_REDIS_IMAGE', 'redis:7'),
      ports: { redis: 6379 },
      command: ['redis-server', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'],
      network: { network, aliases: ['redis'] },
      ready: (host, ports) =>
        waitForGreeting(ports.redis, host, {
          what: 'PONG',
          send: 'PING\r\n',
          ready: (chunk) => chunk.toString().startsWith('+PONG'),
        }),
    });
    started.push(redis);
    const mqtt = await startTargetContainer({
      name: 'bastion-mqtt',
      image: imageFor(...IMAGES.mqtt),
      ports: { http: 4000 },
      // On every interface: testcontainers attaches the container to Docker's default bridge as well
      // as to the topology's network, and the published port leads to the bridge address. Host names
      // accepted: its name on the network and loopback (the harness's readiness check).
      command: [
        '--transport',
        'http',
        '--host',
        '0.0.0.0',
        '--allowed-hosts',
        'bastion-mqtt,localhost,127.0.0.1',
        '--port',
        '4000',
        '--identity-header',
        'x-bastion-identity',
      ],
      env: { BASTION_MQTT_AUTH_TOKEN: mqttToken, HEALTH_URL: 'http://bastion-mqtt:4000/mcp' },
      network: { network, aliases: ['bastion-mqtt'], hostname: 'bastion-mqtt' },
      ready: (host, ports) => answers(`http://${host}:${ports.http}/mcp`),
    });
    started.push(mqtt);
    const sshToken = scenarioGrant().token;
    const ssh = await startTargetContainer({
      name: 'bastion-ssh',
      image: imageFor(...IMAGES.ssh),
      // No published port: only the gateways reach it, by its name. On every interface, as bastion-mqtt
      // (its name may resolve to the bridge's address inside). Ready when its image's health check passes.
      ports: {},
      command: [
        '--transport',
        'http',
        '--host',
        '0.0.0.0',
        '--allowed-hosts',
        'bastion-ssh,localhost,127.0.0.1',
        '--port',
        '4100',
        '--identity-header',
        'x-bastion-identity',
      ],
      env: { BASTION_SSH_AUTH_TOKEN: sshToken, HEALTH_URL: 'http://bastion-ssh:4100/mcp' },
      network: { network, aliases: ['bastion-ssh'], hostname: 'bastion-ssh' },
      ready: async () => undefined,
    });
    started.push(ssh);
    await healthy(ssh);
    const { token, tokenSha256 } = scenarioGrant();
    const config = replicasGatewayConfig(
      'http://bastion-mqtt:4000/mcp',
      tokenSha256,
      '/data/audit/gateway.jsonl',
      'http://bastion-ssh:4100/mcp',
    );
    for (const [name, server] of Object.entries(config.servers) as Array<[string, Record<string, unknown>]>) {
      server.headers = {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the gateway expands the variable itself.
        authorization: name === SSH_SERVER ? 'Bearer ${SSH_TOKEN}' : 'Bearer ${MQTT_TOKEN}',
      };
      server.identityHeader = 'x-bastion-identity';
    }
    const configText = JSON.stringify(config, null, 2);
    await writeFile(join(dir, 'gateway.json'), configText);
    const replicaIds = Array.from({ length: count }, (_, i) => `gw-${i + 1}`);
    const gateways: TargetContainer<'http'>[] = [];
    for (const [i, id] of replicaIds.entries()) {
      const offset = options.clockOffsetsMs?.[i];
      const gateway = await startTargetContainer({
        name: id,
        image: imageFor(...IMAGES.gateway),
        ports: { http: 4200 },
        command: ['--config', '/etc/bastion/gateway.json', '--host', '0.0.0.0', '--port', '4200'],
        files: [{ content: configText, target: '/etc/bastion/gateway.json', mode: 0o644 }],
        env: {
          BASTION_REDIS_URL: 'redis://redis:6379',
          BASTION_REPLICA_ID: id,
          MQTT_TOKEN: mqttToken,
          SSH_TOKEN: sshToken,
          ...(offset === undefined ? {} : { BASTION_GATEWAY_CLOCK_OFFSET_MS: String(offset) }),
        },
        mounts: [{ source: auditDir, target: '/data/audit', mode: 'rw' }],
        network: { network, aliases: ['gateways', `gateway-${i + 1}`], hostname: `gateway-${i + 1}` },
        ready: (host, ports) => answers(`http://${host}:${ports.http}/healthz`),
      });
      gateways.push(gateway);
      started.push(gateway);
    }
    const lb = await startTargetContainer({
      name: 'lb',
      image: imageFor(...IMAGES.lb),
      ports: { http: 8080 },
      network: { network, aliases: ['lb'] },
      ready: (host, ports) => answers(`http://${host}:${ports.http}/healthz`),
    });
    started.push(lb);
    const base = (c: TargetContainer<'http'>) => `http://${c.host}:${c.ports.http}`;
    return {
      tier: 'container',
      replicas: gateways.map(base),
      balancer: base(lb),
      replicaIds,
      token,
      auditDir,
      killReplica: (i) => (gateways[i] as TargetContainer<'http'>).kill('SIGKILL'),
      startReplica: (i) => (gateways[i] as TargetContainer<'http'>).start(),
      redisDown: () => redis.kill('SIGKILL'),
      redisUp: () => redis.start(),
      async metrics(i) {
        const res = await fetch(`${base(gateways[i] as TargetContainer<'http'>)}/metrics`, {
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
        for (const c of started.reverse()) await c.stop().catch(() => undefined);
        await network.stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
    await network.stop().catch(() => undefined);
    throw err;
  }
}
