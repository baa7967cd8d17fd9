/**
 * What flows through the call pipeline: one `tools/call` from one agent (a 2025-era session or a
 * 2026-era request), the facts each step adds (grant, policy, rule, decision, upstream outcome), and
 * the target the last step forwards to.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { CompiledPolicy, CompiledRule } from '../policy/compile.js';
import type { Step } from './compose.js';

export type { CallToolResult };

/** Who is calling: the grant a bearer token (or the stdio operator, or anonymous access) maps to. */
export interface Principal {
  /** Grant label; the id mcp-http binds sessions to. */
  id: string;
  /** A configured grant, anonymous access (when allowed), or the local operator of a stdio gateway. */
  kind: 'grant' | 'anonymous' | 'local';
}

export interface Decision {
  /** `pending`: the call waits for (or was sent off to wait for) a person's approval. */
  decision: 'allow' | 'deny' | 'pending';
  /** JSON Pointer of the rule that decided, or `(default deny)`, `(hidden)`, `(default allow)`, ... */
  rule: string;
  reason: string;
  retryAfterMs?: number;
  /** The error code a denial carries (`POLICY_DENIED` unless a step says otherwise, e.g. `TOOL_CHANGED`). */
  code?: string;
}

export type UpstreamOutcomeKind =
  | 'ok'
  | 'isError'
  | 'input_required'
  | 'protocol-error'
  | 'restarted'
  | 'unavailable'
  | 'cancelled'
  | 'timeout'
  | 'closed';

export interface UpstreamOutcome {
  outcome: UpstreamOutcomeKind;
  latencyMs: number;
  /** For protocol errors: the JSON-RPC error code. */
  code?: number;
}

/** The upstream as the pipeline sees it: the agent's upstream session, or the upstream itself. */
export interface CallTarget {
  /** Whether the upstream offers `name` (exactly), refreshing its tool list if it changed. */
  hasTool(name: string): Promise<boolean>;
  /** The same from the last tool list, without waiting (for metric labels). */
  knowsTool(name: string): boolean;
  /** Why the tool's definition is withheld (tool pinning), if it is; absent: nothing is withheld. */
  withheld?(name: string): string | undefined;
  /**
   * The tool's inputSchema from the last tool list (undefined for a tool the upstream does not list):
   * its defaults are filled in before conditions run, and its secret hints redact the audit.
   */
  inputSchema(name: string): unknown;
  callTool(signal: AbortSignal): Promise<CallToolResult>;
}

/**
 * The agent as the approval step sees it: its era, what it can be asked (elicitation modes it
 * declared), and how: a 2025-era agent is sent a request within the call (`ask`); a 2026-era agent
 * gets an `input_required` result and retries with `inputResponses` and the `requestState` echoed.
 */
export interface AgentLink {
  era: 'legacy' | 'modern';
  /** Elicitation modes the agent declared (an empty `elicitation: {}` means form only). */
  elicitation: { form: boolean; url: boolean } | undefined;
  /** 2026 era, a retried request: the state the gateway (or the upstream) handed out, echoed. */
  requestState?: string;
  /** 2026 era, a retried request: the answers to the input requests of the previous round. */
  inputResponses?: Readonly<Record<string, unknown>>;
  /** 2025 era: sends a request to the agent, related to this call, and resolves with its result. */
  ask?(
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
  /** 2025 era: a notification to the agent, related to this call (`notifications/elicitation/complete`). */
  notify?(method: string, params: Record<string, unknown>): void;
}

/** Quota reserved earlier for this call (when it was admitted for approval): limits settles it instead. */
export interface PrepaidQuota {
  /** Keeps the units (the call ran) or returns them (it did not). */
  settle(ran: boolean): Promise<void>;
}

export interface CallContext {
  readonly requestId: string | number;
  /** The 2025-era session, or `grant:<label>` for a 2026-era request (which has none). */
  readonly sessionId: string;
  readonly server: string;
  readonly tool: string;
  /** The arguments as the agent sent them: what is forwarded and recorded. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The injected clock's time when the call arrived; all window arithmetic uses it. */
  readonly now: number;
  readonly principal: Principal | undefined;
  readonly signal: AbortSignal;
  readonly target: CallTarget;
  grant?: string;
  policy?: CompiledPolicy;
  rule?: CompiledRule;
  /**
   * The arguments as the upstream will use them (`args` with the inputSchema's defaults filled in),
   * set by the conditions step; what conditions, limits and approval decide on.
   */
  effectiveArgs?: Readonly<Record<string, unknown>>;
  /** The agent, as the forwarding core knows it (absent: it can be asked nothing). */
  agent?: AgentLink;
  /** Set by the approval step when the call redeems an approval whose quota was reserved at admission. */
  prepaid?: PrepaidQuota;
  /**
   * Set by the approval step: the gateway's own `requestState` and `inputResponses` keys, which the
   * forwarded call must not carry to the upstream.
   */
  consumedInput?: { requestState: boolean; keys: ReadonlyArray<string> };
  /** The approval this call waited for or redeemed (for the audit row). */
  approval?: { id: string; status: string; decidedBy?: string };
  decision?: Decision;
  upstream?: UpstreamOutcome;
  /** The agent's W3C trace context (`traceparent`, `tracestate`), from `_meta` or the HTTP header. */
  readonly incomingTrace?: Readonly<Record<string, string>>;
  /** The trace context to send upstream, set by the tracing step (tracing.ts). */
  upstreamTrace?: Record<string, string>;
}

export type CallStep = Step<CallContext, CallToolResult>;
