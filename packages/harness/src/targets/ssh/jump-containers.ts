/**
 * The container tier's jump-host topology: a target sshd container that only a jump sshd container
 * can reach.
 *
 *   this machine --127.0.0.1:P (published)--> [jump container] --internal network--> [target container, :22]
 *
 * Both run the sshd image of container.ts, each with host keys of its own. The jump container sits on Docker's default bridge, where
 * its port 22 is published on 127.0.0.1, and on an internal network (no route out, no published
 * port). The target is on the internal network only, reached by its container name, which Docker's
 * DNS resolves on that network.
 *
 * An internal network's bridge still gets an address on the engine's machine (the gateway), so when
 * the engine runs on this machine, this machine could reach the target directly. Docker 26 leaves
 * that address out when asked (`com.docker.network.bridge.inhibit_ipv4`, set here); an engine that
 * ignores the option (Debian's 20.10) gets the address removed from the bridge, which needs root.
 * The tests check the result rather than trust it: the target's banner must not reach this process.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { getContainerRuntimeClient, StartedNetwork } from 'testcontainers';
import { waitFor } from '../../suites/wait.js';
import type { TargetProvider } from '../../testing/tiers.js';
import { dockerAvailability } from '../container.js';
import { findBinary } from '../process.js';
import { containerLabels } from '../run-scope.js';
import { type SshContainerHost, startSshContainer } from './container.js';
import { type JumpNetwork, sshBannerArrives } from './jump-network.js';

/** How long a started target's sshd may take to answer the jump host. */
const TARGET_READY_MS = 30_000;

async function createInternalNetwork(name: string, bridge: string): Promise<StartedNetwork> {
  const client = await getContainerRuntimeClient();
  const network = await client.container.dockerode.createNetwork({
    Name: name,
    CheckDuplicate: true,
    Driver: 'bridge',
    Internal: true,
    Labels: containerLabels(),
    Options: {
      'com.docker.network.bridge.name': bridge,
      'com.docker.network.bridge.inhibit_ipv4': 'true',
    },
  });
  return new StartedNetwork(client, name, network);
}

/**
 * Takes this machine's address off the network's bridge, when the bridge is on this machine and has
 * one: without it this machine has no route into the network.
 */
function removeHostAddress(bridge: string): void {
  if (findBinary('ip') === undefined) {
    throw new Error(`no ip binary to check that this machine has no address on bridge ${bridge}`);
  }
  let addresses: string;
  try {
    addresses = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    // No such interface here: the engine runs on another machine (or VM), which this one cannot route into.
    return;
  }
  if (addresses.trim() === '') return;
  try {
    execFileSync('ip', ['-4', 'addr', 'flush', 'dev', bridge], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(
      `the internal network's bridge ${bridge} has an address on this machine, which would reach the target directly, and removing it failed (needs root): ${(err as Error).message}`,
    );
  }
}

/** Established TCP connections whose local port is `port`, from the container's /proc/net/tcp{,6}. */
async function established(host: SshContainerHost, port: number): Promise<number> {
  const table = await host.exec(['cat', '/proc/net/tcp', '/proc/net/tcp6']);
  const localPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(localPort) === true && fields[3] === '01').length;
}

/** The IPv4 address Docker's DNS gives `name`, as seen from inside `from`. */
async function resolveInside(from: SshContainerHost, name: string): Promise<string> {
  const out = await from.exec(['getent', 'ahostsv4', name]);
  const address = out.split(/\s+/)[0];
  if (address === undefined || address === '')
    throw new Error(`${name} does not resolve in the jump container`);
  return address;
}

/** Whether the target's SSH banner reaches the jump container (one attempt, bounded). */
async function bannerFromJump(jump: SshContainerHost, targetName: string): Promise<boolean> {
  const out = await jump.exec(
    ['timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${targetName}/22 && head -c 4 <&3`],
    [0, 1, 124],
  );
  return out.startsWith('SSH-');
}

export async function startJumpContainers(env: NodeJS.ProcessEnv = process.env): Promise<JumpNetwork> {
  const tag = `${process.pid}-${randomInt(0, 0xffffff).toString(16).padStart(6, '0')}`;
  const prefix = `bastion-jump-${tag}`;
  const targetName = `${prefix}-target`;
  const jumpAlias = `${prefix}-jump`;
  // Interface names are limited to 15 characters.
  const bridge = `bj${randomInt(0, 0xffffffff).toString(16).padStart(8, '0')}`;
  let network: StartedNetwork | undefined;
  let jump: SshContainerHost | undefined;
  let target: SshContainerHost | undefined;
  const stop = async () => {
    // Each step runs even if an earlier one failed: nothing may outlive the test.
    const results = await Promise.allSettled([target?.stop(), jump?.stop()]);
    target = undefined;
    jump = undefined;
    const removed = await Promise.allSettled([network?.stop()]);
    network = undefined;
    const failed = [...results, ...removed].find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  };
  try {
    network = await createInternalNetwork(`${prefix}-net`, bridge);
    removeHostAddress(bridge);
    const jumpHost = await startSshContainer(env, {
      network: { network, aliases: [jumpAlias] },
      ownHostKeys: true,
    });
    jump = jumpHost;
    target = await startSshContainer(env, {
      containerName: targetName,
      network: { network },
      ownHostKeys: true,
      unpublished: {
        ready: () =>
          waitFor(
            async () => ((await bannerFromJump(jumpHost, targetName)) ? true : undefined),
            `the SSH banner of ${targetName} from the jump container`,
            TARGET_READY_MS,
          ).then(() => {}),
      },
    });
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  const jumpHost = jump;
  const targetHost = target;
  const innerAddresses = async () => ({
    jump: await resolveInside(jumpHost, jumpAlias),
    target: await resolveInside(jumpHost, targetName),
  });
  return {
    tier: 'container',
    jump: jumpHost,
    target: targetHost,
    jumpFromInside: { host: jumpAlias, port: 22 },
    innerAddresses,
    async reachableFromHere(timeoutMs) {
      return sshBannerArrives((await innerAddresses()).target, 22, timeoutMs);
    },
    reachableFromJump: () =>
      jumpHost.exec(['timeout', '5', 'bash', '-c', `exec 3<>/dev/tcp/${targetName}/22`]).then(
        () => true,
        () => false,
      ),
    establishedSessions: async () => ({
      jump: await established(jumpHost, 22),
      target: await established(targetHost, 22),
    }),
    stop,
  };
}

/** The container tier of the jump-host tests: the Docker engine of the container tier, nothing more. */
export const sshJumpContainersProvider: TargetProvider<JumpNetwork> = {
  kind: 'ssh-jump-network',
  tier: 'container',
  availability: () => dockerAvailability(),
  start: () => startJumpContainers(),
};
