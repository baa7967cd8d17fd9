/**
 * The sandbox's broker and SSH host, from the tier asked for:
 *   embedded  - Aedes and the ssh2-based host in this process; commands run in the simulated shell
 *               (just-bash, in-memory files) or, with `--ssh-shell host`, in a real /bin/sh in a
 *               scratch directory of this machine;
 *   process   - mosquitto and OpenSSH sshd from this machine (the harness's process-tier providers);
 *   container - the same in containers (Docker).
 * Outside the simulated shell, commands run in a real shell: that of this machine's sshd logins or
 * of the container. Each host gets the seed files in the login's working directory.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import ssh2, { type SFTPWrapper } from 'ssh2';
import { containerMqttBrokerProvider, startMosquittoContainer } from '../targets/mqtt/container.js';
import { startAedesBroker } from '../targets/mqtt/embedded.js';
import { mosquittoAvailability, startMosquittoBroker } from '../targets/mqtt/mosquitto.js';
import type { MqttBrokerTarget } from '../targets/mqtt/types.js';
import { makeTempDir } from '../targets/run-scope.js';
import { sshContainerProvider, startSshContainerTarget } from '../targets/ssh/container.js';
import { EmbeddedSshHost, randomPassword } from '../targets/ssh/embedded.js';
import { SshdHost, sshdAvailability } from '../targets/ssh/sshd.js';
import type { SshHostTarget } from '../targets/ssh/types.js';
import type { Availability } from '../testing/tiers.js';
import { serveSftpOnFileSystem } from './memory-sftp.js';
import { seedFiles } from './seed.js';
import { startSimulatedShell } from './simulated-shell.js';

export type SandboxTier = 'embedded' | 'process' | 'container';
export type SshShell = 'simulated' | 'host';

export interface SandboxBroker {
  implementation: string;
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface SandboxSshHost {
  /** What runs the commands, for the banner. */
  shell: 'simulated' | 'host' | 'sshd' | 'container';
  host: string;
  port: number;
  username: string;
  /** Password login; absent where only a key works (a non-root sshd). */
  password?: string;
  /** OpenSSH private key text, when the login needs a key. */
  privateKey?: string;
  hostPublicKey: string;
  fingerprint: string;
  /** Where the seed files are (the simulated home, or a scratch directory on the host). */
  filesDir: string;
  /** Whether commands start in `filesDir` (true for the embedded host; sshd starts in the user's home). */
  startsInFilesDir: boolean;
  stop(): Promise<void>;
}

/** Why `tier` cannot run here, or undefined when it can. */
export function tierAvailability(tier: SandboxTier): Availability {
  if (tier === 'embedded') return { available: true };
  const checks =
    tier === 'process'
      ? [mosquittoAvailability(), sshdAvailability()]
      : [containerMqttBrokerProvider.availability(), sshContainerProvider.availability()];
  const reasons = checks.flatMap((c) => (c.available ? [] : [c.reason]));
  return reasons.length === 0 ? { available: true } : { available: false, reason: reasons.join('; ') };
}

export async function startSandboxBroker(tier: SandboxTier): Promise<SandboxBroker> {
  let target: MqttBrokerTarget;
  if (tier === 'embedded') target = await startAedesBroker();
  else if (tier === 'process') target = await startMosquittoBroker();
  else target = await startMosquittoContainer();
  return {
    implementation: target.implementation === 'aedes' ? 'Aedes, in process' : `Mosquitto (${tier})`,
    host: target.host,
    port: target.port,
    url: target.url,
    stop: () => target.stop(),
  };
}

const SIMULATED_USER = 'agent';
const SIMULATED_HOME = `/home/${SIMULATED_USER}`;

export async function startSandboxSshHost(tier: SandboxTier, shell: SshShell): Promise<SandboxSshHost> {
  const files = seedFiles();
  if (tier === 'embedded') {
    const password = randomPassword();
    const users = [{ username: SIMULATED_USER, password }];
    if (shell === 'simulated') {
      const simulated = await startSimulatedShell({
        home: SIMULATED_HOME,
        user: SIMULATED_USER,
        files: Object.fromEntries(Object.entries(files).map(([p, c]) => [posix.join(SIMULATED_HOME, p), c])),
      });
      try {
        const host = await EmbeddedSshHost.start({
          users,
          commandRunner: simulated.runner,
          // A path inside the simulated file system: nothing is created on the real disk.
          workDir: SIMULATED_HOME,
          sftpHandler: (sftp, home) =>
            serveSftpOnFileSystem(sftp, home, simulated.fs, { user: SIMULATED_USER }),
        });
        return embeddedHost(host, 'simulated', password, SIMULATED_HOME, async () => {
          await host.stop();
          await simulated.close();
        });
      } catch (err) {
        await simulated.close();
        throw err;
      }
    }
    const scratch = await makeTempDir('bastion-sandbox-shell-');
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(scratch, path)), { recursive: true });
      await writeFile(join(scratch, path), content);
    }
    const host = await EmbeddedSshHost.start({ users, workDir: scratch });
    return embeddedHost(host, 'host', password, scratch, async () => {
      await host.stop();
      await rm(scratch, { recursive: true, force: true });
    });
  }

  const target: SshHostTarget = tier === 'process' ? await SshdHost.start() : await startSshContainerTarget();
  try {
    const login =
      target.passwordLogin !== undefined
        ? { username: target.passwordLogin.username, password: target.passwordLogin.password }
        : { username: target.keyLogin.username, privateKey: target.keyLogin.privateKey };
    await seedOverSftp(target, login, files);
    return {
      shell: tier === 'process' ? 'sshd' : 'container',
      host: target.host,
      port: target.port,
      ...login,
      hostPublicKey: target.hostKey.publicKey,
      fingerprint: target.hostKey.fingerprint,
      filesDir: target.scratchDir,
      startsInFilesDir: false,
      stop: () => target.stop(),
    };
  } catch (err) {
    await target.stop();
    throw err;
  }
}

function embeddedHost(
  host: EmbeddedSshHost,
  shell: 'simulated' | 'host',
  password: string,
  filesDir: string,
  stop: () => Promise<void>,
): SandboxSshHost {
  return {
    shell,
    host: host.host,
    port: host.port,
    username: SIMULATED_USER,
    password,
    hostPublicKey: host.hostKey.publicKey,
    fingerprint: host.hostKey.fingerprint,
    filesDir,
    startsInFilesDir: true,
    stop,
  };
}

/** Writes the seed files into the target's scratch directory as the login that will use them. */
async function seedOverSftp(
  target: SshHostTarget,
  login: { username: string; password?: string; privateKey?: string },
  files: Record<string, string>,
): Promise<void> {
  const client = new ssh2.Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', reject);
      client.connect({
        host: target.host,
        port: target.port,
        username: login.username,
        ...(login.password === undefined ? {} : { password: login.password }),
        ...(login.privateKey === undefined ? {} : { privateKey: login.privateKey }),
        hostVerifier: (key: Buffer) => key.toString('base64') === target.hostKey.publicKey.split(' ')[1],
        readyTimeout: 20_000,
      });
    });
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    );
    const made = new Set<string>();
    for (const [path, content] of Object.entries(files)) {
      const full = posix.join(target.scratchDir, path);
      const dir = posix.dirname(full);
      if (dir !== target.scratchDir && !made.has(dir)) {
        made.add(dir);
        await new Promise<void>((resolve) => sftp.mkdir(dir, () => resolve()));
      }
      await new Promise<void>((resolve, reject) =>
        sftp.writeFile(full, content, (err) => (err ? reject(err) : resolve())),
      );
    }
    sftp.end();
  } finally {
    client.end();
  }
}
