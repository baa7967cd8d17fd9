/**
 * Request bodies: read with a size limit (413 beyond it), parsed once, and refused when nested deeper
 * than a limit. Deep nesting is cheap to send and expensive to receive: validators, clones and
 * serialisers recurse, and 5,000 levels of `[[[...]]]` in a tool's arguments overflowed the stack of
 * the server behind the gateway. So every JSON edge checks depth before anything recursive runs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import { sendJson, sendRpcError } from './responses.js';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Far deeper than any tool's arguments need, far shallower than a stack overflow. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** True when `value` nests objects or arrays more than `maxDepth` levels (iterative: it cannot overflow). */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (node === null || typeof node !== 'object') continue;
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children)
      if (child !== null && typeof child === 'object') stack.push({ node: child, depth: depth + 1 });
  }
  return false;
}

/** The id of a JSON-RPC request body (single message), for an error answer; null when it has none. */
export function requestIdOf(body: unknown): string | number | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

export const BODY_FAILED = Symbol('body-failed');

export interface BodyLimits {
  maxBytes: number;
  maxDepth: number;
}

/**
 * Reads and parses a JSON body; on failure the answer is already sent and BODY_FAILED returned:
 * 413 over the size limit, 400 -32700 for bytes that are not JSON, 400 -32602 (invalid params,
 * addressed to the request's id) for JSON nested deeper than the limit.
 */
export async function readJsonBody(
  req: IncomingMessage,
  res: ServerResponse,
  limits: BodyLimits,
): Promise<unknown | typeof BODY_FAILED> {
  let raw: string;
  try {
    raw = await getRawBody(req, { limit: limits.maxBytes, encoding: 'utf8' });
  } catch (err) {
    const tooLarge = (err as { type?: string }).type === 'entity.too.large';
    if (tooLarge) {
      sendRpcError(res, 413, -32600, `Request body exceeds ${limits.maxBytes} bytes`);
      req.resume();
    } else sendRpcError(res, 400, -32700, 'Could not read request body');
    return BODY_FAILED;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    sendRpcError(res, 400, -32700, 'Parse error: body is not JSON');
    return BODY_FAILED;
  }
  if (jsonDepthExceeds(body, limits.maxDepth)) {
    sendJson(res, 400, {
      jsonrpc: '2.0',
      id: requestIdOf(body),
      error: { code: -32602, message: `Invalid params: JSON nested deeper than ${limits.maxDepth} levels` },
    });
    return BODY_FAILED;
  }
  return body;
}
