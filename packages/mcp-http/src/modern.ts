/**
 * The 2026-07-28 era on the same URL as 2025-era sessions. A request is classified once, with the
 * SDK's own classifier (`classifyInboundRequest`, the same body-primary rules `createMcpHandler`
 * applies, so the two never disagree): a 2025-era request goes to the session table, anything else
 * to the caller's identity scope, whose SDK handler answers it (including the spec's rejections of a
 * malformed modern request, such as `Mcp-Method`/`Mcp-Name` headers that disagree with the body).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  classifyInboundRequest,
  type McpHttpHandler,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import { requestIdOf } from './body.js';
import type { Principal } from './guards/bearer.js';
import type { IdentityHandle } from './identities.js';
import { sendJson } from './responses.js';
import type { ModernTasks } from './tasks/modern.js';

/** One identity's stateless-era serving: what `openIdentity` returns. */
export interface ModernIdentity extends IdentityHandle {
  /** Serves one 2026-era request; `body` is the parsed JSON of a POST. */
  serve(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/** Whether a request belongs to the 2025 era (sessions, `initialize`, no per-request envelope). */
export function isLegacyHttpRequest(req: IncomingMessage, body: unknown): boolean {
  const outcome = classifyInboundRequest({
    httpMethod: req.method ?? 'GET',
    protocolVersionHeader: header(req, 'mcp-protocol-version'),
    mcpMethodHeader: header(req, 'mcp-method'),
    mcpNameHeader: header(req, 'mcp-name'),
    ...(body !== undefined && { body }),
  });
  return outcome.kind === 'legacy';
}

/**
 * Serves an identity's requests with an SDK handler (`createMcpHandler(factory, { legacy: 'reject' })`).
 * The principal travels as the handler's `authInfo` (its `clientId` is the principal id), so tools
 * can tell whose state they work on. With `tasks`, a long call of a task tool becomes a task
 * (tasks/modern.ts); the factory behind `handler` registers the task methods with the same object.
 */
export function sdkModernIdentity(
  handler: McpHttpHandler,
  principal: Principal,
  close: () => Promise<void>,
  tasks?: ModernTasks,
): ModernIdentity {
  const node = toNodeHandler(handler);
  const auth = { token: '', clientId: principal.id, scopes: [], extra: { principal } };
  return {
    async serve(req, res, body) {
      (req as IncomingMessage & { auth?: unknown }).auth = auth;
      if (tasks !== undefined && (await tasks.serveCall(handler, req, res, body, auth))) return;
      return node(req, res, body);
    },
    async close() {
      tasks?.close();
      await handler.close();
      await close();
    },
  };
}

/** The answer of an endpoint that serves the 2025 era only, to a 2026-era request. */
export function sendUnsupportedModern(res: ServerResponse, body: unknown): void {
  sendJson(res, 400, {
    jsonrpc: '2.0',
    id: requestIdOf(body),
    error: {
      code: -32022,
      message: 'Unsupported protocol version: this endpoint serves the 2025 era only (initialize)',
      data: { supported: [...SUPPORTED_PROTOCOL_VERSIONS] },
    },
  });
}
