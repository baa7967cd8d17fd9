/**
 * A real sshd that trusts a user CA (`TrustedUserCAKeys`) and serves a host certificate signed by a
 * host CA (`HostCertificate`), both CAs made fresh by ssh-keygen for each start: what
 * test/ssh-certificates.test.ts logs in to, on the process tier (SshdHost) and the container tier
 * (the sshd image, configured at start through files put into the container: no image of its own).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Availability, Stoppable, TargetProvider } from '../../testing/tiers.js';
import { dockerAvailability, LOOPBACK } from '../container.js';
import { findBinary } from '../process.js';
import { makeTempDirSync } from '../run-scope.js';
import { startSshContainer } from './container.js';
import { sshdAvailability } from './ssh-test-users.js';
import { SshdHost } from './sshd.js';
import type { SshHostTarget } from './types.js';

/** An sshd trusting a user CA and serving a host certificate signed by a host CA, with the CA files. */
export interface CaSshd extends Stoppable {
  sshd: SshHostTarget;
  /**
   * Where the sshd reaches itself through a channel it forwards, for a jump host that is this
   * sshd: its own address on the process tier, the container's own 127.0.0.1:22 on the container
   * tier (the published port is the engine's host's, not the container's). The host certificate
   * names 127.0.0.1, which both are.
   */
  self: { host: string; port: number };
  /** A temp dir holding the CA key files (removed by `stop()`). */
  dir: string;
  /** The user CA's private key file (`.pub` next to it). */
  userCa: string;
  /** The host CA's private key file (`.pub` next to it). */
  hostCa: string;
}

/** The host both tiers are dialled at, which the host certificate names. */
const PRINCIPAL = LOOPBACK;

function keygen(...args: string[]): void {
  execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
}

/** Makes both CAs in a fresh dir, then the sshd; removes the dir if the sshd does not start. */
async function withCas(
  start: (cas: { userCa: string; hostCa: string }) => Promise<{ sshd: SshHostTarget; self?: CaSshd['self'] }>,
): Promise<CaSshd> {
  const dir = makeTempDirSync('bastion-ssh-ca-');
  const userCa = join(dir, 'user_ca');
  const hostCa = join(dir, 'host_ca');
  try {
    keygen('-t', 'ed25519', '-N', '', '-C', 'user-ca', '-f', userCa);
    keygen('-t', 'ed25519', '-N', '', '-C', 'host-ca', '-f', hostCa);
    const { sshd, self } = await start({ userCa, hostCa });
    return {
      sshd,
      self: self ?? { host: sshd.host, port: sshd.port },
      dir,
      userCa,
      hostCa,
      async stop() {
        try {
          await sshd.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export const caSshdProcessProvider: TargetProvider<CaSshd> = {
  kind: 'ssh-host',
  tier: 'process',
  availability: () => sshdAvailability(),
  start: () =>
    withCas(async ({ userCa, hostCa }) => ({
      sshd: await SshdHost.start({
        extraConfig: [`TrustedUserCAKeys ${userCa}.pub`],
        hostCertificate: { caKeyFile: hostCa, principals: [PRINCIPAL] },
      }),
    })),
};

export const caSshdContainerProvider: TargetProvider<CaSshd> = {
  kind: 'ssh-host',
  tier: 'container',
  availability(): Availability {
    // The CAs are made and the host key signed on this machine, so the CA keys never enter the container.
    if (findBinary('ssh-keygen') === undefined) {
      return { available: false, reason: 'no ssh-keygen on PATH (Debian: apt-get install openssh-client)' };
    }
    return dockerAvailability();
  },
  start: () =>
    withCas(async ({ userCa, hostCa }) => ({
      sshd: await startSshContainer(process.env, {
        certificates: {
          userCaPublicKey: readFileSync(`${userCa}.pub`, 'utf8'),
          hostCa: { caKeyFile: hostCa, principals: [PRINCIPAL] },
        },
      }),
      self: { host: '127.0.0.1', port: 22 },
    })),
};

/** Both tiers with a real sshd, for `describeEachTier`. */
export const caSshdProviders: ReadonlyArray<TargetProvider<CaSshd>> = [
  caSshdProcessProvider,
  caSshdContainerProvider,
];
