/**
 * A Redis server in the process and container tiers (the gateway's shared counter store uses it).
 */
import type { Stoppable, TargetProvider } from '../../testing/tiers.js';
import { dockerAvailability, imageFor, startTargetContainer } from '../container.js';
import { findBinary, freePort, ServiceProcess, waitForGreeting, withFreshPorts } from '../process.js';

export interface RedisTarget extends Stoppable {
  readonly tier: 'process' | 'container' | 'external';
  readonly host: string;
  readonly port: number;
  /** `redis://host:port` */
  readonly url: string;
  /** Kills the server (SIGKILL) and starts it again on the same port, with no data kept. */
  restart(): Promise<void>;
  /** Kills the server (SIGKILL) and leaves it down (the replicas scenarios' outage). */
  down(): Promise<void>;
  /** Starts a server that is down again, on the same port, with no data kept. */
  up(): Promise<void>;
}

const REDIS_ARGS = ['--save', '', '--appendonly', 'no', '--daemonize', 'no'];

/** What a Redis test may need beyond connecting: `restart()`. */
export type RedisCapability = 'restart';

export const redisProcessProvider: TargetProvider<RedisTarget, RedisCapability> = {
  kind: 'redis',
  tier: 'process',
  availability() {
    return findBinary('redis-server')
      ? { available: true }
      : { available: false, reason: 'redis-server is not on PATH (Debian: apt-get install redis-server)' };
  },
  async start() {
    const binary = findBinary('redis-server');
    if (binary === undefined) throw new Error('redis-server is not on PATH');
    const { port, service } = await withFreshPorts(async () => {
      const port = await freePort();
      const service = new ServiceProcess({
        name: 'redis-server',
        command: binary,
        args: ['--port', String(port), '--bind', '127.0.0.1', ...REDIS_ARGS],
        port,
        readyLine: /Ready to accept connections/,
      });
      await service.start();
      return { port, service };
    });
    return {
      tier: 'process',
      host: '127.0.0.1',
      port,
      url: `redis://127.0.0.1:${port}`,
      restart: () => service.restart('SIGKILL'),
      down: () => service.kill('SIGKILL'),
      up: () => service.start(),
      stop: () => service.stop(),
    };
  },
};

export const redisContainerProvider: TargetProvider<RedisTarget, RedisCapability> = {
  kind: 'redis',
  tier: 'container',
  availability: () => dockerAvailability(),
  async start() {
    const container = await startTargetContainer({
      name: 'redis',
      image: imageFor('BASTION_REDIS_IMAGE', 'redis:7'),
      ports: { redis: 6379 },
      command: ['redis-server', '--protected-mode', 'no', ...REDIS_ARGS],
      ready: (host, ports) =>
        waitForGreeting(ports.redis, host, {
          what: 'PONG',
          send: 'PING\r\n',
          ready: (chunk) => chunk.toString().startsWith('+PONG'),
        }),
    });
    const { host } = container;
    const port = container.ports.redis;
    return {
      tier: 'container',
      host,
      port,
      url: `redis://${host}:${port}`,
      async restart() {
        await container.kill('SIGKILL');
        await container.start();
      },
      down: () => container.kill('SIGKILL'),
      up: () => container.start(),
      stop: () => container.stop(),
    };
  },
};

export const redisExternalProvider: TargetProvider<RedisTarget, RedisCapability> = {
  kind: 'redis',
  tier: 'external',
  lacks: () => 'the harness cannot restart an external Redis',
  availability() {
    return process.env.BASTION_EXTERNAL_REDIS_URL
      ? { available: true }
      : { available: false, reason: 'BASTION_EXTERNAL_REDIS_URL is not set' };
  },
  async start() {
    const url = new URL(process.env.BASTION_EXTERNAL_REDIS_URL ?? '');
    const host = url.hostname;
    const port = Number(url.port || 6379);
    return {
      tier: 'external',
      host,
      port,
      url: url.toString(),
      async restart() {
        throw new Error('an external Redis cannot be restarted by the harness');
      },
      async down() {
        throw new Error('an external Redis cannot be stopped by the harness');
      },
      async up() {
        throw new Error('an external Redis cannot be started by the harness');
      },
      async stop() {
        // Not ours to stop.
      },
    };
  },
};

export const redisProviders: ReadonlyArray<TargetProvider<RedisTarget, RedisCapability>> = [
  redisProcessProvider,
  redisContainerProvider,
  redisExternalProvider,
];
