/**
 * Structural tests for JSON-RPC messages that already passed `JSONRPCMessageSchema` (or that the
 * SDK's own Protocol built). The SDK's `isJSONRPC*` guards each run a zod parse, which on a
 * transport's per-call path is work done twice.
 */
import type {
  JSONRPCErrorResponse,
  JSONRPCMessage,
  JSONRPCRequest,
  JSONRPCResultResponse,
} from '@modelcontextprotocol/server';

export const isRequestMessage = (m: JSONRPCMessage): m is JSONRPCRequest => 'method' in m && 'id' in m;

export const isResponseMessage = (m: JSONRPCMessage): m is JSONRPCResultResponse | JSONRPCErrorResponse =>
  'result' in m || 'error' in m;

/** The notification a client sends once initialization is done. */
export const isInitializedMessage = (m: JSONRPCMessage): boolean =>
  'method' in m && m.method === 'notifications/initialized' && !('id' in m);
