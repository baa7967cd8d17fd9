/**
 * How a denial reaches the agent: a tool result, not a transport error, so the model can read it and
 * act (POLICY.md): `isError: true`, text beginning `[POLICY DENIED]`, and `structuredContent` with a
 * stable code and the decision (`rule` as a JSON Pointer, `retryAfterMs` for a limit).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CallContext, Decision } from './context.js';

export const DENIED_PREFIX = '[POLICY DENIED]';

/** Results the gateway wrote itself (denials, upstream failures), as opposed to the upstream's. */
const gatewayResults = new WeakSet<object>();

export function isGatewayResult(result: object): boolean {
  return gatewayResults.has(result);
}

/** An operational failure of the gateway's own making, in the workspace's error shape. */
export function gatewayError(
  code: string,
  text: string,
  extra: Record<string, unknown> = {},
): CallToolResult {
  const result: CallToolResult = {
    content: [{ type: 'text', text }],
    structuredContent: { code, ...extra },
    isError: true,
  };
  gatewayResults.add(result);
  return result;
}

export function denialResult(decision: Decision): CallToolResult {
  const policy: Record<string, unknown> = {
    decision: decision.decision,
    rule: decision.rule,
    reason: decision.reason,
  };
  if (decision.retryAfterMs !== undefined) policy.retryAfterMs = decision.retryAfterMs;
  return gatewayError('POLICY_DENIED', `${DENIED_PREFIX} ${decision.reason}`, { policy });
}

/** Records the denial on the context and returns the result the agent gets. */
export function deny(ctx: CallContext, decision: Omit<Decision, 'decision'>): CallToolResult {
  ctx.decision = { decision: 'deny', ...decision };
  return denialResult(ctx.decision);
}
