/**
 * Steps 1 and 2 of the core: what an HTTP request carries, and which era it belongs to.
 *
 * The era is read from the body, as the SDK's `createMcpHandler` does: a request carrying the
 * per-request `_meta` envelope is 2026-era, anything else (a session id, `initialize`, no envelope)
 * is 2025-era. The headers are cross-checked, never trusted: a 2026-era request whose
 * `MCP-Protocol-Version`, `Mcp-Method` or `Mcp-Name` disagrees with its body (or lacks one the spec
 * requires) is refused with HeaderMismatch (-32020), so that nothing routing or deciding on headers
 * can be told something else than the server executes. Policy itself reads the body only.
 *
 * The common cases are decided by a few property reads; everything unusual (a malformed envelope, a
 * batch with an envelope, an unknown revision) goes to the SDK's own classifier,
 * `classifyInboundRequest`, so the gateway answers those cells exactly as the SDK's servers do. (The
 * classifier runs zod over the message: some 50 µs a request, a sixth of the gateway's budget.)
 */
import type { IncomingMessage } from 'node:http';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  classifyInboundRequest,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import {
  ErrorCodes,
  errorMessage,
  type Id,
  kindOf,
  type RpcMessage,
  type RpcRequest,
  type RpcResponse,
} from './jsonrpc.js';

export const MODERN_REVISION = '2026-07-28';
const MODERN_REVISIONS: ReadonlySet<string> = new Set([MODERN_REVISION]);
const LOG_LEVELS = new Set(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']);
/** Methods whose `Mcp-Name` header mirrors a body field (SEP-2243). */
const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

export type HttpEra =
  | { kind: 'legacy' }
  | {
      kind: 'modern';
      message: RpcRequest | RpcMessage;
      /** The revision the envelope claims (it may be one the gateway does not serve). */
      revision: string | undefined;
      id: Id | null;
    }
  | { kind: 'reject'; status: number; error: RpcResponse };

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

function metaOf(body: unknown): Record<string, unknown> | undefined {
  const params = (body as { params?: unknown } | null)?.params;
  if (params === null || typeof params !== 'object') return undefined;
  const meta = (params as { _meta?: unknown })._meta;
  return meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>) : undefined;
}

export function classifyHttp(req: IncomingMessage, body: unknown): HttpEra {
  if (req.method !== 'POST') return { kind: 'legacy' };
  const versionHeader = header(req, 'mcp-protocol-version');
  if (!Array.isArray(body)) {
    const claim = metaOf(body)?.[PROTOCOL_VERSION_META_KEY];
    if (claim === undefined && (versionHeader === undefined || !versionHeader.startsWith('2026')))
      return { kind: 'legacy' };
    if (claim !== undefined && fastModern(req, body, claim, versionHeader)) {
      const message = body as RpcRequest;
      return { kind: 'modern', message, revision: claim as string, id: 'id' in message ? message.id : null };
    }
  }
  return sdkClassification(req, body, versionHeader);
}

/** The envelope and headers of an ordinary 2026-era request, all in agreement. */
function fastModern(
  req: IncomingMessage,
  body: unknown,
  claim: unknown,
  versionHeader: string | undefined,
): boolean {
  if (typeof claim !== 'string' || !MODERN_REVISIONS.has(claim) || versionHeader !== claim) return false;
  const kind = kindOf(body);
  if (kind !== 'request') return false;
  const message = body as RpcRequest;
  if (header(req, 'mcp-method') !== message.method) return false;
  const meta = metaOf(body) as Record<string, unknown>;
  const capabilities = meta[CLIENT_CAPABILITIES_META_KEY];
  if (capabilities === null || typeof capabilities !== 'object' || Array.isArray(capabilities)) return false;
  const info = meta[CLIENT_INFO_META_KEY] as Record<string, unknown> | undefined;
  if (
    info !== undefined &&
    (info === null || typeof info.name !== 'string' || typeof info.version !== 'string')
  )
    return false;
  const level = meta[LOG_LEVEL_META_KEY];
  if (level !== undefined && !LOG_LEVELS.has(level as string)) return false;
  return nameHeaderProblem(req, message) === undefined;
}

/** The SDK's classifier for every case the fast path does not settle, and the headers it leaves to the entry. */
function sdkClassification(req: IncomingMessage, body: unknown, versionHeader: string | undefined): HttpEra {
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader: versionHeader,
    mcpMethodHeader: header(req, 'mcp-method'),
    mcpNameHeader: header(req, 'mcp-name'),
    body,
  });
  const id = idOf(body);
  if (outcome.kind === 'legacy') return { kind: 'legacy' };
  if (outcome.kind === 'reject')
    return {
      kind: 'reject',
      status: outcome.httpStatus,
      error: errorMessage(id, outcome.code, outcome.message, outcome.data),
    };
  const revision = outcome.classification.revision;
  if (outcome.messageKind === 'request' && revision !== undefined && MODERN_REVISIONS.has(revision)) {
    // The presence half of the standard headers, and Mcp-Name, which the classifier leaves to the entry.
    const problem =
      versionHeader === undefined
        ? 'the required MCP-Protocol-Version header is absent'
        : header(req, 'mcp-method') === undefined
          ? 'the required Mcp-Method header is absent'
          : nameHeaderProblem(req, outcome.message as unknown as RpcRequest);
    if (problem !== undefined)
      return {
        kind: 'reject',
        status: 400,
        error: errorMessage(
          id,
          ErrorCodes.HeaderMismatch,
          `Bad Request: the request headers and body disagree: ${problem}`,
        ),
      };
  }
  return { kind: 'modern', message: outcome.message as unknown as RpcMessage, revision, id };
}

/** Why `Mcp-Name` does not mirror the body's name or uri, if it does not (its Base64 sentinel decoded). */
function nameHeaderProblem(req: IncomingMessage, message: RpcRequest): string | undefined {
  const field = Object.hasOwn(NAME_SOURCE, message.method) ? NAME_SOURCE[message.method] : undefined;
  if (field === undefined) return undefined;
  const value = message.params?.[field];
  const bodyValue = typeof value === 'string' ? value : undefined;
  const raw = header(req, 'mcp-name');
  if (raw === undefined)
    return bodyValue === undefined
      ? undefined
      : `the body names ${field} "${bodyValue}" but the Mcp-Name header is absent`;
  const decoded = decodeSentinel(raw.trim());
  if (decoded === undefined) return 'the Mcp-Name header carries an invalid Base64 sentinel value';
  if (bodyValue !== undefined && decoded !== bodyValue)
    return `the body names ${field} "${bodyValue}" but the Mcp-Name header names "${decoded}"`;
  return undefined;
}

/** A header value, with the spec's `=?base64?…?=` sentinel decoded; undefined when the sentinel is invalid. */
function decodeSentinel(value: string): string | undefined {
  if (!value.startsWith('=?base64?') || !value.endsWith('?=')) return value;
  const encoded = value.slice(9, -2);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  return Buffer.from(decoded, 'utf8').toString('base64') === encoded ? decoded : undefined;
}

function idOf(body: unknown): Id | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const { id, method } = body as { id?: unknown; method?: unknown };
  return typeof method === 'string' && (typeof id === 'string' || typeof id === 'number') ? id : null;
}

/** The SDK's limit on messages in one POST. */
const MAX_BATCH = 100;

export type LegacyPost =
  | { kind: 'ok'; messages: RpcMessage[]; batch: boolean }
  | { kind: 'reject'; status: number; error: RpcResponse };

/** A 2025-era POST's messages, or why it is refused (the SDK transport's checks, in its order). */
export function checkLegacyPost(req: IncomingMessage, body: unknown): LegacyPost {
  const reject = (status: number, code: number, message: string): LegacyPost => ({
    kind: 'reject',
    status,
    error: errorMessage(null, code, message),
  });
  const accept = req.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream'))
    return reject(
      406,
      -32000,
      'Not Acceptable: Client must accept both application/json and text/event-stream',
    );
  if (!(req.headers['content-type'] ?? '').includes('application/json'))
    return reject(415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  const batch = Array.isArray(body);
  const items: unknown[] = batch ? (body as unknown[]) : [body];
  if (items.length === 0 || items.length > MAX_BATCH)
    return reject(400, -32600, `Invalid Request: a batch holds 1 to ${MAX_BATCH} messages`);
  for (const item of items)
    if (kindOf(item) === undefined) return reject(400, -32700, 'Parse error: Invalid JSON-RPC message');
  return { kind: 'ok', messages: items as RpcMessage[], batch };
}
