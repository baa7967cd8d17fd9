export type { ApprovalRecord, ApprovalStatus, ApprovalView } from './approvals/records.js';
export { APPROVAL_REQUIRED_PREFIX, INPUT_KEY as APPROVAL_INPUT_KEY } from './approvals/waiting.js';
export { SIGNATURE_HEADER, signWebhook } from './approvals/webhook.js';
export { type ChainKey, canonicalJson, GENESIS, keyIdOf, rowHash } from './audit/chain.js';
export { type Head, HeadError, headPathFor, readHead } from './audit/head.js';
export {
  AUDIT_KEY_ENV,
  AuditKeyError,
  createAuditKeyFile,
  parseAuditKey,
  readAuditKeyFile,
} from './audit/key.js';
export {
  AuditChainError,
  type AuditEntry,
  AuditLog,
  type AuditLogOptions,
  auditEntryFor,
} from './audit/log.js';
export { AuditMergeError, type MergedRow, mergeAuditLogs } from './audit/merge.js';
export { openAuditLog } from './audit/open.js';
export { isSecretKey, REDACTED, type Redacted, redactArgs, scrubSecrets } from './audit/redact.js';
export { type VerifyLogsOptions, type VerifyReport, verifyAuditLogs } from './audit/report.js';
export { type VerifyOptions, type VerifyResult, verifyAuditLog } from './audit/verify.js';
export { type Clock, systemClock } from './clock.js';
export {
  ANONYMOUS_GRANT,
  type AuditConfig,
  type GatewayConfig,
  type GatewayConfigDocument,
  type GrantConfig,
  gatewayConfigJsonSchema,
  gatewayConfigSchema,
  LOCAL_GRANT,
  loadConfigFile,
  type PolicyRef,
  policyJsonSchema,
  resolveConfig,
  type ServerConfig,
  type UpstreamConfig,
} from './config.js';
export type { ConsoleService, CounterView, PinChange } from './console/service.js';
export { OPEN_GATE, type ToolDefinition, type ToolDefinitionGate } from './core/catalog.js';
export type { ChannelSession, ChannelTransport } from './core/forward.js';
export {
  type DeploymentConfig,
  defaultReplicaId,
  REDIS_URL_ENV,
  REPLICA_ID_ENV,
  replicaAuditPath,
} from './deployment.js';
export {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type ListenOptions,
  type OpenSessionOptions,
  type UpstreamCheck,
} from './gateway.js';
export { GrantBook, type GrantListing } from './grant-book.js';
export {
  ADMIN_TOKEN_PREFIX,
  createAdminToken,
  createGrantToken,
  type GrantIndex,
  grantConfigEntry,
  hashToken,
  indexGrants,
  TOKEN_PREFIX,
} from './grants.js';
export { MemoryCounterStore } from './limits/memory-store.js';
export { RedisCounterStore, type RedisCounterStoreOptions } from './limits/redis-store.js';
export {
  type CounterStore,
  CounterStoreUnavailableError,
  fixedWindowStart,
  type Reservation,
  type ReserveRequest,
  type ReserveResult,
} from './limits/store.js';
export { GatewayMetrics } from './metrics.js';
export type { Oversight } from './oversight.js';
export { definitionDiff, definitionHash, PINNED_FIELDS, pinnedPart } from './pins/definition.js';
export { readLockFile, writeLockFile } from './pins/lock-file.js';
export type { ToolPins } from './pins/pins.js';
export type { LockFile, Pin, PinSet, Proposal } from './pins/records.js';
export { compose, type Next, PipelineError, type Step } from './pipeline/compose.js';
export type {
  CallContext,
  CallStep,
  CallTarget,
  Decision,
  Principal,
  UpstreamOutcome,
  UpstreamOutcomeKind,
} from './pipeline/context.js';
export {
  DENIED_PREFIX,
  denialResult,
  ERROR_META_KEY,
  errorDetails,
  gatewayError,
  isGatewayResult,
} from './pipeline/denial.js';
export {
  type CallPipeline,
  type CallPipelineOptions,
  callPipelineSteps,
  createCallPipeline,
} from './pipeline/index.js';
export type { GrantResolution, GrantResolver } from './pipeline/steps/resolve-grant.js';
export { checkArgPaths } from './policy/args-check.js';
export {
  type CompiledLimit,
  type CompiledPolicy,
  type CompiledRule,
  isCallable,
  isHidden,
  mayDenyAfterListing,
  windowMs,
} from './policy/compile.js';
export {
  type CompiledCondition,
  compileCondition,
  firstViolation,
  type Outcome,
  readPath,
  type Violation,
  violationReason,
} from './policy/conditions.js';
export { type ArgsWithDefaults, withSchemaDefaults } from './policy/defaults.js';
export { loadPolicyFile, type PolicyResult, parsePolicy, parsePolicyText } from './policy/load.js';
export {
  type FilterRelation,
  relateFilter,
  relateSubscription,
  topicFilterProblem,
} from './policy/mqtt-topics.js';
export {
  DEFAULT_AS_TOOL,
  decideNotification,
  type NotificationDecision,
  PROTOCOL_NOTIFICATIONS,
  type PushedNotification,
} from './policy/notifications.js';
export { type PathReading, readRemotePath } from './policy/paths.js';
export {
  describeLoadError,
  formatProblems,
  PolicyLoadError,
  type Problem,
  toPointer,
} from './policy/problems.js';
export { type PolicyDocument, policySchema } from './policy/schema.js';
export type { ReloadEvent } from './policy/source.js';
export type { PolicyEvent, ServerState } from './server-runtime.js';
export { MemoryStateStore } from './store/memory-store.js';
export { openStateStore } from './store/open.js';
export { RedisConnection, type RedisConnectionOptions } from './store/redis-connection.js';
export { RedisStateStore, type RedisStateStoreOptions } from './store/redis-store.js';
export type { RecordTable, SessionDirectory, SessionRecord, StateStore } from './store/store.js';
export { Backoff, type BackoffOptions } from './upstream/backoff.js';
export {
  CancelledError,
  SessionClosedError,
  UpstreamLostError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './upstream/errors.js';
