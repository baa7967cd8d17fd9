export {
  bearerTokenAuthenticator,
  type McpEndpoint,
  type McpHttpHost,
  type McpHttpHostOptions,
  normalizeOrigin,
  type Principal,
  type RouteHandler,
  type SessionHandle,
  type SessionInfo,
  startMcpHttpHost,
} from './host.js';
export { isInitializedMessage, isRequestMessage, isResponseMessage } from './messages.js';
