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
export { canonicalAddress, endpointName, endpointThrough } from './endpoint.js';
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
export { type HopFacts, type HopSpec, type LoginSpec, SshRoute } from './jump.js';
export { createLocalFiles, type LocalFiles } from './local-files.js';
export {
  type ConnectDeps,
  type ConnectRequest,
  type HostRequest,
  type OpenedConnection,
  openConnection,
} from './open-connection.js';
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
