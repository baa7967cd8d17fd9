export {
  type AllowedHost,
  ConfigError,
  hostIsAllowed,
  parseConfig,
  type SshServerConfig,
  type SshServerConfigInput,
  sshServerConfigSchema,
} from './config.js';
export {
  type ConnectionInfo,
  ConnectionRegistry,
  type ConnectionState,
  ManagedConnection,
} from './connections.js';
export { canonicalAddress, endpointName, endpointThrough } from './endpoint.js';
export { redact, SSH_ERROR_CODES, SshError, type SshErrorCode } from './errors.js';
export { type ExecRequest, execOnConnection } from './exec-on-connection.js';
export {
  fingerprintOf,
  HostKeyPolicy,
  KnownHosts,
  KnownHostsError,
  knownHostsName,
  normalizeFingerprint,
} from './host-keys.js';
export { startSshHttpServer } from './http.js';
export { Job, type JobEnd, type JobInfo, type JobLimits, type JobRequest, JobTable } from './jobs.js';
export { type HopFacts, type HopSpec, type LoginSpec, SshRoute } from './jump.js';
export { inputBytes, KEY_NAMES } from './keys.js';
export { createLocalFiles, type LocalFiles } from './local-files.js';
export {
  type ConnectDeps,
  type ConnectRequest,
  type HostRequest,
  type OpenedConnection,
  openConnection,
} from './open-connection.js';
export { OutputRing, type RingRead } from './output-ring.js';
export { type RemoteWork, type StopReason, WorkSet } from './remote-work.js';
export {
  createSshServer,
  createSshServerShared,
  SERVER_NAME,
  SERVER_VERSION,
  type SshServerDeps,
  type SshServerSession,
  type SshServerShared,
} from './server.js';
export { createSessionWork, type SessionWork } from './session-work.js';
export { buildCommand, shellQuote } from './shell.js';
export {
  Shell,
  type ShellEnd,
  type ShellInfo,
  type ShellLimits,
  type ShellRequest,
  ShellTable,
} from './shells.js';
