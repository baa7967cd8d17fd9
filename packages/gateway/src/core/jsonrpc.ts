/**
 * The JSON-RPC vocabulary of the forwarding core: message shapes, a structural kind test (every
 * message is read once, so no schema parse sits on the hot path), and the error codes the gateway
 * answers with. Messages that come back from an upstream travel as `Wire` values: the parsed object
 * and, when the gateway did not change it, the exact text it arrived as, so pass-through never
 * serialises a message twice.
 */

export type Id = string | number;

export interface RpcRequest {
  jsonrpc: '2.0';
  id: Id;
  method: string;
  params?: Record<string, unknown>;
}

export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

export interface RpcResponse {
  jsonrpc: '2.0';
  id: Id | null;
  result?: Record<string, unknown>;
  error?: RpcError;
}

export type RpcMessage = RpcRequest | RpcNotification | RpcResponse;

/** A message and, when it is unchanged since it was read, its original text. */
export interface Wire {
  msg: RpcMessage;
  text?: string;
  /** For an error answer over HTTP: the status it goes with (2026 era: 400, 404), when not 200. */
  status?: number;
  /** It came on an event stream: an answer passed through goes out on one as well (transparency). */
  sse?: boolean;
}

export type Kind = 'request' | 'notification' | 'response';

function isId(value: unknown): value is Id {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The kind of a parsed JSON-RPC 2.0 message, or undefined when it is none: the checks JSON-RPC itself
 * makes (version, id type, method a string, params an object, exactly one of result and error).
 */
export function kindOf(value: unknown): Kind | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return undefined;
  if (typeof m.method === 'string') {
    if (
      m.params !== undefined &&
      (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params))
    )
      return undefined;
    if (!('id' in m)) return 'notification';
    return isId(m.id) ? 'request' : undefined;
  }
  const hasResult = 'result' in m;
  const hasError = 'error' in m;
  if (hasResult === hasError) return undefined;
  if (!(isId(m.id) || (m.id === null && hasError))) return undefined;
  if (hasResult) return m.result !== null && typeof m.result === 'object' ? 'response' : undefined;
  const e = m.error as Record<string, unknown> | null;
  return e !== null && typeof e === 'object' && typeof e.code === 'number' && typeof e.message === 'string'
    ? 'response'
    : undefined;
}

/**
 * Whether a message kindOf accepted is a response. A message with a method is a request or a
 * notification whatever other keys it carries, as kindOf decides: a request that also had a `result`
 * or `error` key was once taken for the agent's answer to the upstream, and its POST never answered.
 */
export const isResponse = (m: RpcMessage): m is RpcResponse =>
  !('method' in m) && ('result' in m || 'error' in m);
export const isRequest = (m: RpcMessage): m is RpcRequest => 'method' in m && 'id' in m;
export const isNotification = (m: RpcMessage): m is RpcNotification => 'method' in m && !('id' in m);

/** The text of a message: the original when it is unchanged, else serialised now. */
export function textOf(wire: Wire): string {
  return wire.text ?? JSON.stringify(wire.msg);
}

export function resultMessage(id: Id, result: unknown): RpcResponse {
  return { jsonrpc: '2.0', id, result: result as Record<string, unknown> };
}

export function errorMessage(id: Id | null, code: number, message: string, data?: unknown): RpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** A JSON-RPC error as an exception, e.g. an upstream's error answer to a `tools/call`. */
export class RpcFault extends Error {
  override readonly name = 'RpcFault';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
    /** The HTTP status a 2026-era upstream answered it with (400, 404), passed on to a 2026-era agent. */
    readonly status?: number,
  ) {
    super(message);
  }

  toError(): RpcError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The SDKs' request timeout (a local error in JSON-RPC shape). */
  RequestTimeout: -32001,
  /** 2026-07-28: headers and body disagree. */
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability it did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: the protocol version is not served here. */
  UnsupportedProtocolVersion: -32022,
  /**
   * The gateway's own refusals, outside JSON-RPC's reserved range as the 2026-07-28 revision asks of
   * new codes: too many sessions (data.code says which cap), and a gateway that is shutting down.
   */
  SessionLimit: -31001,
  ShuttingDown: -31002,
  UpstreamUnavailable: -31003,
} as const;
