/**
 * The container tier's SSH host: OpenSSH in a container (docker/sshd/Dockerfile: users `bastion-pw`
 * and `bastion-key`, no secret baked in). At start the harness sets a fresh password and authorizes a
 * fresh key, both through files copied into the container (never on a command line), and maps port
 * 22 to a fixed host port so that a restarted container is found where the old one was.
 *
 * Image: BASTION_SSHD_IMAGE (scripts/prepare-containers.sh builds one locally where no registry is
 * reachable), else built from docker/sshd/Dockerfile.
 */
import { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import type { TargetProvider } from '../../testing/tiers.js';
import { dockerAvailability } from '../container.js';
import { freePort } from '../process.js';
import { generateLoginKey, randomPassword } from './embedded.js';
import type { SshHostKey, SshHostTarget } from './types.js';

const DOCKERFILE_DIR = join(import.meta.dirname, '..', '..', '..', 'docker', 'sshd');
const SCRATCH = '/tmp/bastion-scratch';

/** Resolves once the port answers with an SSH banner (a mapped port may accept before sshd runs). */
async function waitForSshBanner(host: string, port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      const done = (value: boolean) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-')));
      socket.once('error', () => done(false));
      socket.once('close', () => done(false));
      socket.connect(port, host);
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`no SSH banner on ${host}:${port} after ${timeoutMs} ms`);
}

async function run(container: StartedTestContainer, command: string[]): Promise<string> {
  const result = await container.exec(command);
  if (result.exitCode !== 0) {
    throw new Error(
      `'${command.join(' ')}' in the container exited with ${result.exitCode}: ${result.output.trim()}`,
    );
  }
  return result.stdout;
}

async function image(env: NodeJS.ProcessEnv): Promise<GenericContainer> {
  const name = env.BASTION_SSHD_IMAGE;
  if (name !== undefined && name !== '') return new GenericContainer(name);
  return GenericContainer.fromDockerfile(DOCKERFILE_DIR).build('bastion-sshd:test', { deleteOnExit: false });
}

export async function startSshContainerTarget(env: NodeJS.ProcessEnv = process.env): Promise<SshHostTarget> {
  const port = await freePort();
  const container = await (await image(env)).withExposedPorts({ container: 22, host: port }).start();
  const host = container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost();
  const password = randomPassword();
  const key = generateLoginKey();
  let logText = '';
  const follow = async (since?: number) => {
    const stream = await container.logs(since === undefined ? {} : { since });
    stream.on('data', (chunk: Buffer | string) => {
      logText += chunk.toString();
    });
    stream.on('error', () => {});
  };
  let hostKey: SshHostKey = { publicKey: '', fingerprint: '' };
  const readHostKey = async () => {
    const publicKey = (await run(container, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'])).trim();
    const printed = await run(container, [
      'ssh-keygen',
      '-l',
      '-E',
      'sha256',
      '-f',
      '/etc/ssh/ssh_host_ed25519_key.pub',
    ]);
    hostKey = {
      publicKey: publicKey.split(' ').slice(0, 2).join(' '),
      fingerprint: printed.split(' ')[1] ?? '',
    };
  };
  try {
    await follow();
    await container.copyContentToContainer([
      { content: `bastion-pw:${password}\n`, target: '/run/bastion-pw.txt', mode: 0o600 },
      { content: `${key.publicKey}\n`, target: '/home/bastion-key/.ssh/authorized_keys', mode: 0o600 },
    ]);
    await run(container, [
      'sh',
      '-c',
      `chpasswd < /run/bastion-pw.txt && rm -f /run/bastion-pw.txt && chown bastion-key:bastion-key /home/bastion-key/.ssh/authorized_keys && install -d -m 1777 ${SCRATCH}`,
    ]);
    await readHostKey();
    await waitForSshBanner(host, port);
  } catch (err) {
    await container.stop({ timeout: 0 });
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
      if (options.newHostKey)
        await run(container, ['sh', '-c', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A']);
      const since = Math.floor(Date.now() / 1000);
      await container.restart({ timeout: 0 });
      await follow(since);
      await readHostKey();
      await waitForSshBanner(host, port);
    },
    pause: () => signalSshd('STOP'),
    resume: () => signalSshd('CONT'),
    async processes(pattern) {
      const result = await container.exec(['pgrep', '-f', pattern]);
      return result.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    },
    logs: () => logText,
    secrets: () => [password, key.privateKey],
    async stop() {
      await container.stop({ timeout: 0 });
    },
  };
}

export const sshContainerProvider: TargetProvider<SshHostTarget> = {
  kind: 'ssh-host',
  tier: 'container',
  availability: () => dockerAvailability(),
  start: () => startSshContainerTarget(),
};
