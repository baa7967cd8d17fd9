/**
 * A Redis server in the process and container tiers (the gateway's shared counter store uses it).
 */
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import type { Stoppable, TargetProvider } from '../../testing/tiers.js';
import { dockerAvailability, imageFor } from '../container.js';
import { findBinary, freePort, ServiceProcess, waitForPort } from '../process.js';

export interface RedisTarget extends Stoppable {
  readonly tier: 'process' | 'container' | 'external';
  readonly host: string;
  readonly port: number;
  /** `redis://host:port` */
  readonly url: string;
  /** Kills the server (SIGKILL) and starts it again on the same port, with no data kept. */
  restart(): Promise<void>;
}

const REDIS_ARGS = ['--save', '', '--appendonly', 'no', '--daemonize', 'no'];

export const redisProcessProvider: TargetProvider<RedisTarget> = {
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
    const port = await freePort();
    const service = new ServiceProcess({
      name: 'redis-server',
      command: binary,
      args: ['--port', String(port), '--bind', '127.0.0.1', ...REDIS_ARGS],
      port,
    });
    await service.start();
    return {
      tier: 'process',
      host: '127.0.0.1',
      port,
      url: `redis://127.0.0.1:${port}`,
      restart: () => service.restart('SIGKILL'),
      stop: () => service.stop(),
    };
  },
};

export const redisContainerProvider: TargetProvider<RedisTarget> = {
  kind: 'redis',
  tier: 'container',
  availability: () => dockerAvailability(),
  async start() {
    const image = imageFor('BASTION_REDIS_IMAGE', 'redis:7');
    // A fixed host port, so that a restarted container is found where the old one was.
    const port = await freePort();
    const container: StartedTestContainer = await new GenericContainer(image)
      .withCommand(['redis-server', '--protected-mode', 'no', ...REDIS_ARGS])
      .withExposedPorts({ container: 6379, host: port })
      .start();
    const host = container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost();
    return {
      tier: 'container',
      host,
      port,
      url: `redis://${host}:${port}`,
      async restart() {
        await container.restart({ timeout: 0 });
        await waitForPort(port, host);
      },
      async stop() {
        await container.stop({ timeout: 0 });
      },
    };
  },
};

export const redisExternalProvider: TargetProvider<RedisTarget> = {
  kind: 'redis',
  tier: 'external',
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
      async stop() {
        // Not ours to stop.
      },
    };
  },
};

export const redisProviders: ReadonlyArray<TargetProvider<RedisTarget>> = [
  redisProcessProvider,
  redisContainerProvider,
  redisExternalProvider,
];
