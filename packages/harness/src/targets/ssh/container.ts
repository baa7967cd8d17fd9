/**
 * The container tier's SSH host: OpenSSH in a container (docker/sshd/Dockerfile: users `bastion-pw`
 * and `bastion-key`, no secret baked in). At start the harness sets a fresh password and authorizes a
 * fresh key, both through files copied into the container (never on a command line), and publishes
 * port 22 on a fixed port of 127.0.0.1 so that a restarted container is found where the old one was.
 *
 * Image: BASTION_SSHD_IMAGE (scripts/prepare-containers.sh builds one locally where no registry is
 * reachable), else built from docker/sshd/Dockerfile when not built yet.
 */
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, getContainerRuntimeClient, ImageName } from 'testcontainers';
import { lacksFrom } from '../../testing/tiers.js';
import {
  dockerAvailability,
  LOOPBACK_V6,
  startTargetContainer,
  type TargetContainerSpec,
} from '../container.js';
import { waitForGreeting } from '../process.js';
import { generateLoginKey, randomPassword } from './embedded.js';
import { certifiedHostKey, type HostCertificateSpec } from './host-certificate.js';
import type { SshHostCapabilities, SshHostKey, SshHostProvider, SshHostTarget } from './types.js';

export const SSHD_DOCKERFILE_DIR = join(import.meta.dirname, '..', '..', '..', 'docker', 'sshd');
const SCRATCH = '/tmp/bastion-scratch';

export const SSHD_BUILT_IMAGE = 'bastion-sshd:test';

/**
 * BASTION_SSHD_IMAGE, else the image built from docker/sshd/Dockerfile. A test run's preflight
 * (targets/preflight.ts) builds it once; here it is built only when missing, so that each start
 * does not send the build context to the engine again.
 */
async function sshdImage(env: NodeJS.ProcessEnv): Promise<string> {
  const name = env.BASTION_SSHD_IMAGE;
  if (name !== undefined && name !== '') return name;
  const client = await getContainerRuntimeClient();
  if (!(await client.image.exists(ImageName.fromString(SSHD_BUILT_IMAGE)))) {
    await GenericContainer.fromDockerfile(SSHD_DOCKERFILE_DIR).build(SSHD_BUILT_IMAGE, {
      deleteOnExit: false,
    });
  }
  return SSHD_BUILT_IMAGE;
}

/**
 * Where an sshd container goes beyond the default (published on 127.0.0.1, on Docker's default
 * bridge): a user-defined network, and for a host that only other containers reach, no published
 * port at all (the jump-host topology, jump-containers.ts).
 */
export interface SshContainerPlacement {
  /** Docker container name: the DNS name the other containers of its network reach it by. */
  containerName?: string;
  network?: TargetContainerSpec<string>['network'];
  /**
   * Not published: the host is `containerName`:22 on its network only, and `ready` says when its
   * sshd answers there (a check made from a container that can reach it).
   */
  unpublished?: { ready(): Promise<void> };
  /**
   * Host keys of its own, made at the container's first start. The image's are made when it is
   * built, so every container of it presents the same key, and two of them side by side (a jump
   * host and its target) could not tell a wrong key from the right one.
   */
  ownHostKeys?: boolean;
  /**
   * OpenSSH certificates (the ssh-certificates tests): trust this user CA public key
   * (`TrustedUserCAKeys`), and serve a host certificate signed by this CA (`HostCertificate`). The
   * host key and its certificate are made on the host, so the CA's private key stays there; a new
   * host key (`restart({ newHostKey: true })`) is certified again. Implies a host key of its own,
   * and the only one the container offers, as the process tier's sshd.
   */
  certificates?: { userCaPublicKey?: string; hostCa: HostCertificateSpec };
  /**
   * Published on [::1] too, at the same port as on 127.0.0.1: one sshd (one host key) behind two
   * endpoints, as the process tier's sshd with `ListenAddress ::1` (the host-keys-by-endpoint tests).
   */
  ipv6Loopback?: boolean;
}

const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key';
const USER_CA = '/etc/ssh/bastion_user_ca.pub';

/**
 * The files of a certified host: the key, its certificate, and a drop-in the image's sshd_config
 * includes first (Debian's `Include /etc/ssh/sshd_config.d/*.conf`; sshd takes a keyword's first
 * value, so these win). One HostKey line replaces the default list, leaving the certified key the
 * only one offered.
 */
function certificateFiles(
  certificates: NonNullable<SshContainerPlacement['certificates']>,
): Array<{ content: string; target: string; mode: number }> {
  const key = certifiedHostKey(certificates.hostCa);
  const userCa = certificates.userCaPublicKey;
  const config = [
    `HostKey ${HOST_KEY}`,
    `HostCertificate ${HOST_KEY}-cert.pub`,
    ...(userCa === undefined ? [] : [`TrustedUserCAKeys ${USER_CA}`]),
  ];
  return [
    { content: key.privateKey, target: HOST_KEY, mode: 0o600 },
    { content: key.publicKey, target: `${HOST_KEY}.pub`, mode: 0o644 },
    { content: key.certificate, target: `${HOST_KEY}-cert.pub`, mode: 0o644 },
    ...(userCa === undefined ? [] : [{ content: `${userCa.trim()}\n`, target: USER_CA, mode: 0o644 }]),
    {
      content: `${config.join('\n')}\n`,
      target: '/etc/ssh/sshd_config.d/bastion-certificates.conf',
      mode: 0o644,
    },
  ];
}

/** The image's command, with host keys replaced once (a marker file keeps them across restarts). */
const OWN_HOST_KEYS_COMMAND = [
  'sh',
  '-c',
  'if [ ! -e /etc/ssh/.bastion-own-keys ]; then rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && touch /etc/ssh/.bastion-own-keys; fi && exec /usr/sbin/sshd -D -e',
];

/** An sshd container, with a way to run commands in it (the topology checks of jump-containers.ts). */
export interface SshContainerHost extends SshHostTarget {
  exec(command: string[], ok?: ReadonlyArray<number>): Promise<string>;
}

/** The host port of a published sshd container (its ports are keyed by string to allow none). */
function publishedSshPort(ports: Readonly<Record<string, number>>): number {
  const port = ports.ssh;
  if (port === undefined) throw new Error('the sshd container has no published port');
  return port;
}

export async function startSshContainerTarget(env: NodeJS.ProcessEnv = process.env): Promise<SshHostTarget> {
  return startSshContainer(env);
}

export async function startSshContainer(
  env: NodeJS.ProcessEnv = process.env,
  placement: SshContainerPlacement = {},
): Promise<SshContainerHost> {
  const password = randomPassword();
  const key = generateLoginKey();
  const { unpublished, containerName, certificates } = placement;
  if (unpublished !== undefined && containerName === undefined) {
    throw new Error('an unpublished sshd container needs a containerName to be reached by');
  }
  if (unpublished !== undefined && placement.ipv6Loopback === true) {
    throw new Error('an unpublished sshd container has no port to publish on ::1');
  }
  if (certificates !== undefined && placement.ownHostKeys === true) {
    throw new Error('a certified sshd container brings its own host key: ownHostKeys would replace it');
  }
  const container = await startTargetContainer<string>({
    name: containerName ?? 'sshd',
    image: await sshdImage(env),
    ports: unpublished === undefined ? { ssh: 22 } : {},
    ...(placement.ipv6Loopback === true ? { ipv6Loopback: true } : {}),
    ...(containerName === undefined ? {} : { containerName }),
    ...(placement.ownHostKeys === true ? { command: OWN_HOST_KEYS_COMMAND } : {}),
    ...(placement.network === undefined ? {} : { network: placement.network }),
    files: [
      { content: `bastion-pw:${password}\n`, target: '/run/bastion-pw.txt', mode: 0o600 },
      { content: `${key.publicKey}\n`, target: '/home/bastion-key/.ssh/authorized_keys', mode: 0o600 },
      ...(certificates === undefined ? [] : certificateFiles(certificates)),
    ],
    ready: (host, ports) =>
      unpublished !== undefined
        ? unpublished.ready()
        : waitForGreeting(publishedSshPort(ports), host, {
            what: 'SSH banner',
            ready: (chunk) => chunk.toString('latin1').startsWith('SSH-'),
          }),
  });
  const [host, port] =
    unpublished !== undefined && containerName !== undefined
      ? [containerName, 22]
      : [container.host, publishedSshPort(container.ports)];
  let hostKey: SshHostKey = { publicKey: '', fingerprint: '' };
  const readHostKey = async () => {
    const publicKey = (await container.exec(['cat', `${HOST_KEY}.pub`])).trim();
    const printed = await container.exec(['ssh-keygen', '-l', '-E', 'sha256', '-f', `${HOST_KEY}.pub`]);
    hostKey = {
      publicKey: publicKey.split(' ').slice(0, 2).join(' '),
      fingerprint: printed.split(' ')[1] ?? '',
    };
  };
  try {
    await container.exec([
      'sh',
      '-c',
      `chpasswd < /run/bastion-pw.txt && rm -f /run/bastion-pw.txt && chown bastion-key:bastion-key /home/bastion-key/.ssh/authorized_keys && install -d -m 1777 ${SCRATCH}`,
    ]);
    await readHostKey();
  } catch (err) {
    await container.stop();
    throw err;
  }
  const signalSshd = (signal: 'STOP' | 'CONT') =>
    container.exec(['pkill', `-${signal}`, '-x', 'sshd']).then(() => {});
  return {
    tier: 'container',
    host,
    port,
    get hostKey() {
      return hostKey;
    },
    passwordLogin: { username: 'bastion-pw', password },
    keyLogin: { username: 'bastion-key', ...key },
    scratchDir: SCRATCH,
    async restart(options = {}) {
      if (options.newHostKey && certificates !== undefined)
        await container.copy(certificateFiles(certificates));
      else if (options.newHostKey)
        await container.exec(['sh', '-c', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A']);
      // sshd is the container's main process: however it ends, the container and every session go.
      await container.kill(options.signal ?? 'SIGKILL');
      await container.start();
      await readHostKey();
    },
    pause: () => signalSshd('STOP'),
    resume: () => signalSshd('CONT'),
    async processes(pattern) {
      // pgrep exits 1 when nothing matches: an answer, not a failure.
      const out = await container.exec(['pgrep', '-f', '--', pattern], [0, 1]);
      return out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    },
    logs: () => container.logs(),
    secrets: () => [password, key.privateKey],
    exec: (command, ok) => container.exec(command, ok),
    stop: () => container.stop(),
  };
}

const CAPABILITIES: SshHostCapabilities = {
  restart: true,
  pause: true,
  logs: true,
  pty: true,
  signals: true,
};

export const sshContainerProvider: SshHostProvider = {
  kind: 'ssh-host',
  tier: 'container',
  capabilities: CAPABILITIES,
  availability: () => dockerAvailability(),
  start: () => startSshContainerTarget(),
  lacks: lacksFrom('the sshd container', CAPABILITIES),
};

/**
 * Why this machine cannot publish on [::1], or undefined when it can: a kernel without IPv6 (or with
 * it disabled on lo) has no ::1 for docker-proxy to listen on. The engine itself needs nothing for
 * it: docker-proxy, on the host, binds ::1 and forwards to the container's IPv4 address, so IPv6 on
 * the bridge network (`--ipv6`, `fixed-cidr-v6`) is not required.
 */
function ipv6LoopbackMissing(): string | undefined {
  const loopback = Object.values(networkInterfaces())
    .flat()
    .some((a) => a?.internal === true && a.family === 'IPv6' && a.address === LOOPBACK_V6);
  return loopback
    ? undefined
    : 'this machine has no ::1 (IPv6 disabled on lo) to publish the sshd container on';
}

/**
 * The container tier's sshd published on 127.0.0.1 and [::1] at one port: the container-tier
 * counterpart of the process tier's sshd with `ListenAddress ::1` (ssh-hostkey-identity.test.ts).
 */
export const sshDualStackContainerProvider: SshHostProvider = {
  ...sshContainerProvider,
  availability() {
    const docker = dockerAvailability();
    if (!docker.available) return docker;
    const missing = ipv6LoopbackMissing();
    // The engine runs; this machine lacks the second address: a skip with the reason even where the
    // container tier is required, as for any need a tier's target cannot meet here.
    return missing === undefined ? docker : { available: false, reason: missing, unsupported: true };
  },
  start: () => startSshContainer(process.env, { ipv6Loopback: true }),
};
