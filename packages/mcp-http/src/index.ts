export { BODY_FAILED, DEFAULT_MAX_JSON_DEPTH, jsonDepthExceeds, readJsonBody } from './body.js';
export {
  type Authenticator,
  bearerTokenAuthenticator,
  bearerTokenOf,
  type Principal,
  sendUnauthorized,
  tokenAuthenticator,
} from './guards/bearer.js';
export { hostProblem, normalizeHostname, parseHostHeader } from './guards/host-header.js';
export { normalizeOrigin, originProblem } from './guards/origin.js';
export {
  type McpEndpoint,
  type McpHttpHost,
  type McpHttpHostOptions,
  type RawRequestContext,
  type RouteHandler,
  type SessionInfo,
  startMcpHttpHost,
} from './host.js';
export { type IdentityHandle, IdentityScopes } from './identities.js';
export { isInitializedMessage, isRequestMessage, isResponseMessage } from './messages.js';
export { isLegacyHttpRequest, type ModernIdentity, sdkModernIdentity } from './modern.js';
export { sendJson, sendRpcError } from './responses.js';
export type { SessionHandle } from './sessions.js';
export { StreamableSessionTransport } from './streamable-session.js';
export * from './tasks/index.js';
