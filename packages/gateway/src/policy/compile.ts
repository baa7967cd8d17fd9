/**
 * Turns a policy document into the form the pipeline reads: rules looked up by exact tool name,
 * limits with their window in milliseconds, conditions compiled once, and every rule's JSON Pointer
 * (what audit rows and denials name as `rule`).
 */
import { createHash } from 'node:crypto';
import { type CompiledCondition, compileCondition } from './conditions.js';
import { escapePointerSegment, type Problem } from './problems.js';
import type { ApprovalDocument, Approver, LimitDocument, PolicyDocument, WindowName } from './schema.js';

export type LimitScope = 'grant' | 'session' | 'global';

export interface CompiledLimit {
  readonly pointer: string;
  readonly counter: string;
  readonly windowMs: number;
  readonly max: number;
  readonly scope: LimitScope;
  readonly sliding: boolean;
}

/** How a call that needs approval waits, and who may decide (extension). */
export interface CompiledApproval {
  readonly timeoutMs: number;
  readonly onTimeout: 'deny';
  readonly approvers: ReadonlyArray<Approver>;
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 10 * 60_000;

export interface CompiledRule {
  /** `/tools/<name>` */
  readonly pointer: string;
  readonly action: 'allow' | 'deny' | 'require_approval';
  readonly reason: string | undefined;
  readonly onDeny: string | undefined;
  readonly limits: ReadonlyArray<CompiledLimit>;
  readonly require: ReadonlyArray<CompiledCondition>;
  readonly denyIf: ReadonlyArray<CompiledCondition>;
  /** Conditions any one of which makes a call need approval. */
  readonly requireApprovalIf: ReadonlyArray<CompiledCondition>;
  /** Present when some call of this tool can need approval. */
  readonly approval: CompiledApproval | undefined;
}

export interface CompiledPolicy {
  /** Short hash of the document: which policy decided, in audit rows (and later, approvals). */
  readonly version: string;
  readonly default: 'allow' | 'deny';
  readonly hideAll: boolean;
  readonly hidden: ReadonlySet<string>;
  readonly allToolsLimits: ReadonlyArray<CompiledLimit>;
  /** Exact, case-sensitive tool names; a Map so that `__proto__` or `constructor` are just names. */
  readonly rules: ReadonlyMap<string, CompiledRule>;
  readonly document: PolicyDocument;
}

const WINDOW_MS: Record<WindowName, number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

const DURATION_UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "10m", "2h", "1d", or whole seconds, in milliseconds. */
export function durationMs(duration: string | number): number {
  if (typeof duration === 'number') return duration * 1000;
  return Number(duration.slice(0, -1)) * (DURATION_UNIT_MS[duration.slice(-1)] ?? 1000);
}

function compileApproval(document: ApprovalDocument | undefined): CompiledApproval {
  return {
    timeoutMs: document?.timeout === undefined ? DEFAULT_APPROVAL_TIMEOUT_MS : durationMs(document.timeout),
    onTimeout: 'deny',
    approvers: document?.approvers === undefined ? ['console'] : [...new Set(document.approvers)],
  };
}

export function windowMs(window: LimitDocument['window']): number {
  return typeof window === 'number' ? window * 1000 : WINDOW_MS[window];
}

function compileLimit(limit: LimitDocument, pointer: string): CompiledLimit {
  return {
    pointer,
    counter: limit.counter,
    windowMs: windowMs(limit.window),
    max: limit.max,
    scope: limit.scope ?? 'grant',
    sliding: limit.sliding ?? false,
  };
}

/**
 * Compiles a document that already passed the schema. Returns the problems the schema cannot see:
 * limits that share a counter name but disagree on its window.
 */
export function compilePolicy(document: PolicyDocument): { policy: CompiledPolicy; problems: Problem[] } {
  const problems: Problem[] = [];
  const counters = new Map<string, CompiledLimit>();
  const track = (limit: CompiledLimit) => {
    const first = counters.get(limit.counter);
    if (first === undefined) {
      counters.set(limit.counter, limit);
    } else if (first.windowMs !== limit.windowMs || first.sliding !== limit.sliding) {
      problems.push({
        pointer: `${limit.pointer}/window`,
        message: `counter '${limit.counter}' is also used at ${first.pointer} with a different window; limits that share a counter share its window`,
      });
    }
    return limit;
  };

  const allToolsLimits = (document.all_tools?.limits ?? []).map((l, i) =>
    track(compileLimit(l, `/all_tools/limits/${i}`)),
  );
  const rules = new Map<string, CompiledRule>();
  for (const [name, rule] of Object.entries(document.tools ?? {})) {
    const base = `/tools/${escapePointerSegment(name)}`;
    rules.set(name, {
      pointer: base,
      action: rule.action ?? 'allow',
      reason: rule.reason,
      onDeny: rule.on_deny,
      limits: (rule.limits ?? []).map((l, i) => track(compileLimit(l, `${base}/limits/${i}`))),
      require: (rule.require ?? []).map((c, i) => compileCondition(c, `${base}/require/${i}`)),
      denyIf: (rule.deny_if ?? []).map((c, i) => compileCondition(c, `${base}/deny_if/${i}`)),
      requireApprovalIf: (rule.require_approval_if ?? []).map((c, i) =>
        compileCondition(c, `${base}/require_approval_if/${i}`),
      ),
      approval:
        rule.action === 'require_approval' || rule.require_approval_if !== undefined
          ? compileApproval(rule.approval)
          : undefined,
    });
  }
  const hide = document.hide ?? [];
  const hideAll = hide === '*' || hide.includes('*');
  const policy: CompiledPolicy = {
    version: createHash('sha256').update(JSON.stringify(document)).digest('hex').slice(0, 16),
    default: document.default,
    hideAll,
    hidden: new Set(hide === '*' ? [] : hide.filter((h) => h !== '*')),
    allToolsLimits,
    rules,
    document,
  };
  return { policy, problems };
}

/** The rule for a tool, by exact name. */
export function ruleFor(policy: CompiledPolicy, tool: string): CompiledRule | undefined {
  return policy.rules.get(tool);
}

export function isHidden(policy: CompiledPolicy, tool: string): boolean {
  return policy.hideAll || policy.hidden.has(tool);
}

/** Can a call to `tool` get past hide, action and default (before conditions and limits)? */
export function isCallable(policy: CompiledPolicy, tool: string): boolean {
  if (isHidden(policy, tool)) return false;
  const rule = ruleFor(policy, tool);
  if (rule === undefined) return policy.default === 'allow';
  return rule.action !== 'deny';
}

/** Can a callable tool still be denied after listing (by a condition or a limit)? */
export function mayDenyAfterListing(policy: CompiledPolicy, tool: string): boolean {
  const rule = ruleFor(policy, tool);
  if (policy.allToolsLimits.length > 0) return true;
  return (
    rule !== undefined &&
    (rule.limits.length > 0 ||
      rule.require.length > 0 ||
      rule.denyIf.length > 0 ||
      rule.approval !== undefined)
  );
}
