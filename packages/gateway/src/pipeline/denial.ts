/**
 * How a denial, or a failure of the gateway's own, reaches the agent: a tool result, not a transport
 * error, so the model can read it and act (POLICY.md).
 *
 * The workspace's error-result convention: `isError: true`, text content for the model (a denial's
 * starts `[POLICY DENIED]`), NO `structuredContent`, and the machine-readable part in
 * `_meta["dev.bastion/error"] = { code, ...details }` (the rule as a JSON Pointer, `retryAfterMs`
 * for a limit). Without `structuredContent` the result passes every official client's `callTool`
 * validation whatever `outputSchema` the tool declares, so the gateway never rewrites a tool's
 * schema to make room for its own results.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { CallContext, Decision } from './context.js';

export const DENIED_PREFIX = '[POLICY DENIED]';
/** The `_meta` key of an error result's machine-readable part. */
export const ERROR_META_KEY = 'dev.bastion/error';

/** Results the gateway wrote itself (denials, upstream failures), as opposed to the upstream's. */
const gatewayResults = new WeakSet<object>();

export function isGatewayResult(result: object): boolean {
  return gatewayResults.has(result);
}

/** An operational failure of the gateway's own making, in the workspace's error-result shape. */
export function gatewayError(
  code: string,
  text: string,
  details: Record<string, unknown> = {},
): CallToolResult {
  const result: CallToolResult = {
    content: [{ type: 'text', text }],
    isError: true,
    _meta: { [ERROR_META_KEY]: { code, ...details } },
  };
  gatewayResults.add(result);
  return result;
}

/** The machine-readable part of an error result, when it has one. */
export function errorDetails(
  result: { _meta?: Record<string, unknown> } | undefined,
): Record<string, unknown> | undefined {
  const details = result?._meta?.[ERROR_META_KEY];
  return details !== null && typeof details === 'object' ? (details as Record<string, unknown>) : undefined;
}

export function denialResult(decision: Decision): CallToolResult {
  const details: Record<string, unknown> = {
    decision: decision.decision,
    rule: decision.rule,
    reason: decision.reason,
  };
  if (decision.retryAfterMs !== undefined) details.retryAfterMs = decision.retryAfterMs;
  return gatewayError(decision.code ?? 'POLICY_DENIED', `${DENIED_PREFIX} ${decision.reason}`, details);
}

/** Records the denial on the context and returns the result the agent gets. */
export function deny(ctx: CallContext, decision: Omit<Decision, 'decision'>): CallToolResult {
  ctx.decision = { decision: 'deny', ...decision };
  return denialResult(ctx.decision);
}
