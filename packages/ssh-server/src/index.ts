export {
  type AllowedHost,
  ConfigError,
  hostIsAllowed,
  parseConfig,
  type SshServerConfig,
  type SshServerConfigInput,
  sshServerConfigSchema,
} from './config.js';
export type { ConnectionInfo, ConnectionState } from './connections.js';
export { redact, SSH_ERROR_CODES, SshError, type SshErrorCode } from './errors.js';
export {
  fingerprintOf,
  HostKeyPolicy,
  KnownHosts,
  KnownHostsError,
  knownHostsName,
  normalizeFingerprint,
} from './host-keys.js';
export { startSshHttpServer } from './http.js';
export { createLocalFiles, type LocalFiles } from './local-files.js';
export {
  createSshServer,
  createSshServerShared,
  SERVER_NAME,
  SERVER_VERSION,
  type SshServerDeps,
  type SshServerSession,
  type SshServerShared,
} from './server.js';
export { buildCommand, shellQuote } from './shell.js';
