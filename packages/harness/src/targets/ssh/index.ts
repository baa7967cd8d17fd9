export type {
  CommandExit,
  CommandIo,
  CommandRequest,
  CommandRunner,
  RunningCommand,
} from './command-runner.js';
export { createShellCommandRunner } from './command-runner.js';
export { sshContainerProvider, startSshContainerTarget } from './container.js';
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
export { serveSftp } from './sftp-handler.js';
export {
  DEFAULT_SSH_USERS_FILE,
  SshdHost,
  type SshdHostOptions,
  type SshTestUsers,
  sshdAvailability,
  sshProcessProvider,
} from './sshd.js';
export type { SshHostKey, SshHostTarget, SshKeyLogin, SshPasswordLogin } from './types.js';

import { sshContainerProvider } from './container.js';
import { sshEmbeddedProvider } from './embedded.js';
import { sshProcessProvider } from './sshd.js';

/** Every tier that can provide an SSH host, for `describeEachTier`. */
export const sshHostProviders = [sshEmbeddedProvider, sshProcessProvider, sshContainerProvider] as const;
