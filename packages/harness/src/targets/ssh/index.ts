import { providersWith } from '../../testing/tiers.js';

export {
  type CaSshd,
  caSshdContainerProvider,
  caSshdProcessProvider,
  caSshdProviders,
} from './ca-sshd.js';
export type {
  CommandExit,
  CommandIo,
  CommandRequest,
  CommandRunner,
  RunningCommand,
} from './command-runner.js';
export { createShellCommandRunner } from './command-runner.js';
export {
  sshContainerProvider,
  sshDualStackContainerProvider,
  startSshContainerTarget,
} from './container.js';
export {
  EmbeddedSshHost,
  type EmbeddedSshHostOptions,
  type EmbeddedSshTarget,
  type EmbeddedSshUser,
  generateHostKey,
  generateLoginKey,
  pgrep,
  randomPassword,
  sshEmbeddedProvider,
  startEmbeddedSshTarget,
} from './embedded.js';
export {
  externalSshAvailability,
  externalSshConfig,
  sshExternalProvider,
  startExternalSshTarget,
} from './external.js';
export { serveSftp } from './sftp-handler.js';
export {
  DEFAULT_SSH_USERS_FILE,
  PASSWORD_LOGIN_SKIP,
  SshdHost,
  type SshdHostOptions,
  type SshTestUsers,
  sshdAvailability,
  sshProcessProvider,
} from './sshd.js';
export type {
  SshCapability,
  SshHostCapabilities,
  SshHostKey,
  SshHostProvider,
  SshHostTarget,
  SshKeyLogin,
  SshPasswordLogin,
} from './types.js';

import { sshContainerProvider } from './container.js';
import { sshEmbeddedProvider } from './embedded.js';
import { sshExternalProvider } from './external.js';
import { sshProcessProvider } from './sshd.js';
import type { SshCapability, SshHostProvider } from './types.js';

/** Every tier that can provide an SSH host, for `describeEachTier`. */
export const sshHostProviders: ReadonlyArray<SshHostProvider> = [
  sshEmbeddedProvider,
  sshProcessProvider,
  sshContainerProvider,
  sshExternalProvider,
];

/** Every provider; those whose hosts cannot do all of `needs` are skips that say why. */
export function sshHostProvidersWith(...needs: SshCapability[]): SshHostProvider[] {
  return providersWith(sshHostProviders, needs);
}
