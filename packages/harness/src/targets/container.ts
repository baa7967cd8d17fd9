/**
 * What every `container`-tier target needs: to know whether a Docker engine is reachable, and the
 * image to run, configurable by environment variable so that a machine with no registry can point
 * at locally built images (scripts/prepare-containers.sh) while a user's machine pulls public ones.
 */
import { existsSync } from 'node:fs';
import {
  GenericContainer,
  getContainerRuntimeClient,
  type StartedNetwork,
  type StartedTestContainer,
  type WaitStrategy,
} from 'testcontainers';
import type { Availability } from '../testing/tiers.js';
import { type FaultSignal, freePort } from './process.js';
import { containerLabels, RUN_LABEL } from './run-scope.js';

/** Cheap, synchronous: is a Docker socket there? (Starting a container then says if it answers.) */
export function dockerAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  const host = env.DOCKER_HOST;
  if (host !== undefined && host !== '') {
    if (host.startsWith('unix://') && !existsSync(host.slice('unix://'.length))) {
      return { available: false, reason: `DOCKER_HOST socket ${host} does not exist` };
    }
    return { available: true };
  }
  if (existsSync('/var/run/docker.sock')) return { available: true };
  return {
    available: false,
    reason: 'no Docker engine (set DOCKER_HOST, or run packages/harness/scripts/prepare-containers.sh)',
  };
}

/** The image for a kind of target: the variable if set, else the public default. */
export function imageFor(variable: string, publicDefault: string, env: NodeJS.ProcessEnv = process.env) {
  const value = env[variable];
  return value !== undefined && value !== '' ? value : publicDefault;
}

/**
 * A container whose published ports listen on loopback only (Docker binds 0.0.0.0 by default, which
 * would put throwaway brokers and sshd logins on every interface) and on fixed host ports, so that a
 * container killed and started again is found where it was. One container port may be published on
 * several loopback addresses at the same host port: Docker's PortBindings takes a list of HostIp
 * entries for it, each served by its own docker-proxy.
 */
class LoopbackContainer extends GenericContainer {
  withLoopbackPorts(
    ports: ReadonlyArray<{ container: number; host: number }>,
    addresses: ReadonlyArray<string>,
  ): this {
    this.withExposedPorts(...ports);
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of ports) {
      bindings[`${p.container}/tcp`] = addresses.map((HostIp) => ({ HostIp, HostPort: String(p.host) }));
    }
    this.hostConfig.PortBindings = { ...this.hostConfig.PortBindings, ...bindings };
    return this;
  }
}

/** The address every published port listens on, and so the host the tests dial. */
export const LOOPBACK = '127.0.0.1';
/** IPv6 loopback, where a container asks for it too (`ipv6Loopback`): another endpoint, same port. */
export const LOOPBACK_V6 = '::1';

/**
 * The wait strategy of every target container: none, because readiness is `spec.ready()`, which
 * speaks the service's protocol on 127.0.0.1. testcontainers' default strategy dials each published
 * port on the host it resolves for the engine, and when the tests themselves run inside a container
 * (a `/.dockerenv` file, as on CI machines) that host is the docker0 gateway, where ports published
 * on 127.0.0.1 only are refused: every container start then timed out after 60 s. Written by hand
 * because testcontainers exports the interface but no strategy that waits for nothing.
 */
class ReadinessCheckedByCaller implements WaitStrategy {
  private timeoutMs = 60_000;
  private timeoutSet = false;
  async waitUntilReady(): Promise<void> {}
  withStartupTimeout(startupTimeoutMs: number): this {
    this.timeoutMs = startupTimeoutMs;
    this.timeoutSet = true;
    return this;
  }
  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }
  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

export interface TargetContainerSpec<P extends string> {
  /** Shown in errors. */
  name: string;
  /**
   * The container's Docker name, which is also its DNS name on a user-defined network: a container
   * that is not published is reached by it from the others (the jump-host topology).
   */
  containerName?: string;
  image: string;
  /** Container ports by name; each is published on a free port of 127.0.0.1. */
  ports: Readonly<Record<P, number>>;
  /**
   * Also publish every port on ::1, at the same host port (the host-key-by-endpoint tests: two
   * addresses of one server). `ready` is then awaited on both addresses.
   */
  ipv6Loopback?: boolean;
  command?: string[];
  /** Files put in place before the container starts (secrets go here, never on a command line). */
  files?: ReadonlyArray<{ content: string | Buffer; target: string; mode?: number }>;
  /** Several containers that talk to each other (the replicas topology): their network, names, env. */
  network?: { network: StartedNetwork; aliases?: ReadonlyArray<string>; hostname?: string };
  env?: Readonly<Record<string, string>>;
  /** Host directories mounted into the container (read back by the test: audit logs). */
  mounts?: ReadonlyArray<{ source: string; target: string; mode?: 'rw' | 'ro' }>;
  /**
   * Resolves once the service answers (a published port accepts connections as soon as the
   * container runs, before the service inside listens, so this should speak its protocol).
   */
  ready(host: string, ports: Readonly<Record<P, number>>): Promise<void>;
}

/** A started container with the process faults the reconnect scenarios need. */
export interface TargetContainer<P extends string> {
  readonly host: string;
  /** Host ports by name (fixed for the container's life). */
  readonly ports: Readonly<Record<P, number>>;
  /** Runs a command inside; resolves with its stdout, rejects on an exit code not in `ok` ([0]). */
  exec(command: string[], ok?: ReadonlyArray<number>): Promise<string>;
  /** Puts files into the container, as `files` does before its first start (no secret on a command line). */
  copy(files: NonNullable<TargetContainerSpec<P>['files']>): Promise<void>;
  /** Everything the container printed so far, across restarts. */
  logs(): string;
  running(): boolean;
  /**
   * Signals the container's main process and waits for the container to stop (SIGKILL after
   * `graceMs` if a SIGTERM is not obeyed). The container and its files are kept for `start()`.
   */
  kill(signal: FaultSignal, graceMs?: number): Promise<void>;
  /** Starts a killed container again and waits until it is ready. */
  start(): Promise<void>;
  /** Removes the container. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startTargetContainer<P extends string>(
  spec: TargetContainerSpec<P>,
): Promise<TargetContainer<P>> {
  const ports = {} as Record<P, number>;
  const mappings: Array<{ container: number; host: number }> = [];
  const addresses = spec.ipv6Loopback === true ? [LOOPBACK, LOOPBACK_V6] : [LOOPBACK];
  for (const [name, containerPort] of Object.entries(spec.ports) as Array<[P, number]>) {
    const host = await freePort(addresses);
    ports[name] = host;
    mappings.push({ container: containerPort, host });
  }
  let definition = new LoopbackContainer(spec.image)
    .withLoopbackPorts(mappings, addresses)
    .withWaitStrategy(new ReadinessCheckedByCaller())
    .withLabels(containerLabels());
  if (spec.containerName !== undefined) definition = definition.withName(spec.containerName);
  if (spec.command !== undefined) definition = definition.withCommand(spec.command);
  if (spec.files !== undefined && spec.files.length > 0)
    definition = definition.withCopyContentToContainer([...spec.files]);
  if (spec.network !== undefined) {
    definition = definition.withNetwork(spec.network.network);
    if (spec.network.aliases !== undefined)
      definition = definition.withNetworkAliases(...spec.network.aliases);
    if (spec.network.hostname !== undefined) definition = definition.withHostname(spec.network.hostname);
  }
  if (spec.env !== undefined) definition = definition.withEnvironment({ ...spec.env });
  if (spec.mounts !== undefined) definition = definition.withBindMounts([...spec.mounts]);
  const started: StartedTestContainer = await definition.start();
  const client = await getContainerRuntimeClient();
  const handle = client.container.getById(started.getId());
  let logText = '';
  let isRunning = true;
  let removed = false;
  const follow = async (since?: number) => {
    const stream = await started.logs(since === undefined ? {} : { since });
    stream.on('data', (chunk: Buffer | string) => {
      logText = (logText + chunk.toString()).slice(-65_536);
    });
    stream.on('error', () => {});
  };
  const waitReady = async () => {
    try {
      for (const address of addresses) await spec.ready(address, ports);
    } catch (err) {
      throw new Error(`${spec.name} container is not ready: ${(err as Error).message}\n${logText.trim()}`);
    }
  };
  try {
    await follow();
    await waitReady();
  } catch (err) {
    await started.stop({ timeout: 0 });
    throw err;
  }
  return {
    host: LOOPBACK,
    ports,
    async exec(command, ok = [0]) {
      const result = await started.exec(command);
      if (!ok.includes(result.exitCode)) {
        throw new Error(
          `'${command.join(' ')}' in the ${spec.name} container exited with ${result.exitCode}: ${result.output.trim()}`,
        );
      }
      return result.stdout;
    },
    copy: (files) => started.copyContentToContainer([...files]),
    logs: () => logText,
    running: () => isRunning,
    async kill(signal, graceMs = 5_000) {
      if (!isRunning) return;
      const stopped = handle.wait({ condition: 'not-running' });
      await handle.kill({ signal });
      const timer = setTimeout(() => void handle.kill({ signal: 'SIGKILL' }).catch(() => {}), graceMs);
      try {
        await stopped;
      } finally {
        clearTimeout(timer);
      }
      isRunning = false;
    },
    async start() {
      if (isRunning) return;
      const since = Math.floor(Date.now() / 1000);
      await handle.start();
      isRunning = true;
      await follow(since);
      await waitReady();
    },
    async stop() {
      if (removed) return;
      removed = true;
      await started.stop({ timeout: 0 });
    },
  };
}

/** Removes every container a run left behind (the global teardown's asynchronous path). */
export async function removeRunContainers(runId: string): Promise<number> {
  const client = await getContainerRuntimeClient();
  // Killed containers too, not only running ones.
  const ours = await client.container.dockerode.listContainers({
    all: true,
    filters: { label: [`${RUN_LABEL}=${runId}`] },
  });
  for (const info of ours) {
    await client.container.getById(info.Id).remove({ force: true });
  }
  return ours.length;
}

/**
 * Removes the networks a run left behind (labelled like its containers; remove the containers first,
 * since a network with a container attached cannot be removed).
 */
export async function removeRunNetworks(runId: string): Promise<number> {
  const client = await getContainerRuntimeClient();
  const ours = await client.container.dockerode.listNetworks({
    filters: { label: [`${RUN_LABEL}=${runId}`] },
  });
  for (const info of ours) await client.container.dockerode.getNetwork(info.Id).remove();
  return ours.length;
}
