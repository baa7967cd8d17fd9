/**
 * Human approval: `"action": "require_approval"` asks a person about every call of a tool, and a
 * `require_approval_if` condition that holds (on the arguments as the policy saw them, defaults
 * filled in) asks about that call. An approval is good for one exact call (approvals/binding.ts),
 * once, before it expires; how the agent waits for it is approvals/waiting.ts.
 *
 * The step sits before limits: a call it admits for approval reserves its quota here (held while a
 * person decides, returned on a denial or a timeout, approvals/quota.ts), and the approved call
 * takes those units on to the limits step instead of being counted again (`ctx.prepaid`).
 */

import { argumentsHash, type Binding, bindingKey, bindingMismatch } from '../../approvals/binding.js';
import type { ApprovalBook } from '../../approvals/book.js';
import type { QuotaHolds } from '../../approvals/quota.js';
import type { ApprovalRecord } from '../../approvals/records.js';
import {
  type Ask,
  approvalIdOf,
  approvalLink,
  approvalRequiredResult,
  type ElicitAnswer,
  elicitAnswer,
  elicitationParams,
  INPUT_KEY,
  inputRequiredResult,
  planFor,
  userAnswer,
  type WaitPlan,
} from '../../approvals/waiting.js';
import { redactArgs } from '../../audit/redact.js';
import type { CounterStore } from '../../limits/store.js';
import type { CompiledApproval } from '../../policy/compile.js';
import { describeCondition } from '../../policy/conditions.js';
import { CancelledError } from '../../upstream/errors.js';
import type { CallContext, CallStep, CallToolResult } from '../context.js';
import { deny } from '../denial.js';
import { reserveLimits } from './limits.js';

export interface ApprovalDeps {
  book: ApprovalBook;
  holds: QuotaHolds;
  counters: CounterStore;
  /** The console's base URL (`…/console`), once known; undefined: no console to decide in. */
  consoleUrl(): string | undefined;
  /** A new approval is waiting (the webhook). */
  onPending?(record: ApprovalRecord): void;
  /** How long a 2026-era retry waits for a decision before it is asked to come back (long poll). */
  longPollMs?: number;
}

const DEFAULT_LONG_POLL_MS = 20_000;

interface Need {
  pointer: string;
  reason: string;
}

/** One call in the step: what it needs, its binding key, how its agent waits, and the rest of the pipeline. */
interface Turn {
  ctx: CallContext;
  need: Need;
  key: string;
  plan: WaitPlan | undefined;
  next: () => Promise<CallToolResult>;
}

/** What an approval lookup found: an approval, or already the call's answer (a refusal). */
type Found =
  | { record: ApprovalRecord }
  | { result: CallToolResult }
  /** The next round of an approved call the upstream asked input for (its own requestState). */
  | { continuation: ApprovalRecord }
  | undefined;

/** Whether this call needs approval, and which part of the rule says so. */
function needOf(ctx: CallContext): Need | undefined {
  const rule = ctx.rule;
  if (rule?.approval === undefined) return undefined;
  if (rule.action === 'require_approval')
    return {
      pointer: `${rule.pointer}/action`,
      reason: rule.reason ?? 'every call of this tool needs approval',
    };
  const args = ctx.effectiveArgs ?? ctx.args;
  // A condition that cannot be known (a relative path, a topic filter reaching both sides) asks too.
  for (const condition of rule.requireApprovalIf) {
    const outcome = condition.evaluate(args);
    if (outcome === false) continue;
    const described = describeCondition(condition.source);
    const why =
      outcome === true
        ? `approval needed because ${described}`
        : `approval needed: cannot tell whether ${described} (${outcome.unknown})`;
    return { pointer: condition.pointer, reason: rule.reason ?? why };
  }
  return undefined;
}

/** The step itself: each call's way through it is a few small methods (a `Turn` carries the call). */
class ApprovalStep implements CallStep {
  readonly name = 'approval';
  private readonly book: ApprovalBook;
  private readonly holds: QuotaHolds;
  private readonly longPollMs: number;

  constructor(private readonly deps: ApprovalDeps) {
    this.book = deps.book;
    this.holds = deps.holds;
    this.longPollMs = deps.longPollMs ?? DEFAULT_LONG_POLL_MS;
  }

  private refuse(turn: Turn, code: string, reason: string, record?: ApprovalRecord): CallToolResult {
    if (record !== undefined) turn.ctx.approval = approvalInfo(record);
    return deny(turn.ctx, { rule: turn.need.pointer, reason, code });
  }

  /** The approved call goes on, with the quota reserved when it was admitted. */
  private async redeem(turn: Turn, record: ApprovalRecord): Promise<CallToolResult> {
    if (!(await this.book.redeem(record.id)))
      return this.refuse(
        turn,
        'APPROVAL_USED',
        `approval ${record.id} has already been used or has expired`,
        record,
      );
    await this.book.forgetBinding(turn.key);
    const held = this.holds.take(record.id);
    turn.ctx.prepaid = {
      settle: async (ran) => {
        await Promise.all((held ?? []).map((r) => (ran ? r.commit() : r.rollback())));
        await this.book.recordRun(record.id, ran);
      },
    };
    turn.ctx.approval = approvalInfo({ ...record, status: 'consumed' });
    return this.forward(turn, record);
  }

  /**
   * The approved call goes upstream. When the upstream answers `input_required` (a 2026-era agent
   * then retries with the upstream's own state), the approval also covers that one next round: the
   * agent's user is not asked again for the call they approved, and the upstream gets its state.
   */
  private async forward(turn: Turn, record: ApprovalRecord): Promise<CallToolResult> {
    const result = await turn.next();
    if (turn.ctx.upstream?.outcome === 'input_required')
      await this.book.allowContinuation(record.id, turn.key, record.redeemBy ?? record.expiresAt);
    return result;
  }

  /** Where an approval stands decides what the call gets. */
  private async settle(turn: Turn, record: ApprovalRecord): Promise<CallToolResult> {
    switch (record.status) {
      case 'approved':
        return this.redeem(turn, record);
      case 'denied': {
        await this.book.forgetBinding(turn.key);
        const why = record.decisionReason === undefined ? '' : `: ${record.decisionReason}`;
        return this.refuse(
          turn,
          'APPROVAL_DENIED',
          `the call was denied by ${record.decidedBy ?? 'an approver'}${why}`,
          record,
        );
      }
      case 'expired':
        await this.book.forgetBinding(turn.key);
        return this.refuse(
          turn,
          'APPROVAL_EXPIRED',
          `nobody approved the call in time (approval ${record.id} expired)`,
          record,
        );
      case 'consumed':
        return this.refuse(turn, 'APPROVAL_USED', `approval ${record.id} has already been used`, record);
      case 'pending':
        return this.wait(turn, record);
    }
  }

  /** A pending approval: the agent is told to wait in the way it can (approvals/waiting.ts). */
  private async wait(turn: Turn, record: ApprovalRecord): Promise<CallToolResult> {
    const { ctx, plan } = turn;
    ctx.approval = approvalInfo(record);
    ctx.decision = {
      decision: 'pending',
      rule: turn.need.pointer,
      reason: `waiting for approval ${record.id}`,
    };
    const link = approvalLink(this.deps.consoleUrl(), record.id);
    if (plan === undefined || plan.way === 'retry') return approvalRequiredResult(record, link);
    const ask = plan.ask ?? 'console-form';
    if (plan.way === 'elicitation') return this.elicit(turn, record, ask, link);
    // A 2026-era retry that answered the gateway's question waits a while here for the decision,
    // then is asked to come back (a requestState-only round) rather than held for long.
    const answered =
      approvalIdOf(ctx.agent?.requestState) === record.id &&
      userAnswer(ctx.agent?.inputResponses) !== undefined;
    if (!answered) return inputRequiredResult(record, elicitationParams(record, ask, link, 'modern'));
    const until = Math.min(record.expiresAt, this.book.now() + this.longPollMs);
    const now = await this.book.waitForDecision(record.id, until, ctx.signal);
    if (ctx.signal.aborted) throw new CancelledError('the agent cancelled the call');
    if (now !== undefined && now.status !== 'pending') return this.settle(turn, now);
    return inputRequiredResult(record, undefined);
  }

  /** 2025 era: the agent's user is asked within the call, while the console may decide meanwhile. */
  private async elicit(turn: Turn, record: ApprovalRecord, ask: Ask, link: string | undefined) {
    const { ctx } = turn;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const decided = this.book.waitForDecision(record.id, record.expiresAt, stop.signal);
      const question = elicitationParams(record, ask, link, 'legacy');
      const asking = ctx.agent?.ask?.('elicitation/create', question, stop.signal);
      // An agent that fails to answer (or errs) leaves the decision to the console, or to the timeout.
      const answered = (asking ?? Promise.resolve(undefined)).then(elicitAnswer, () => undefined);
      const first = await Promise.race([
        decided.then((record) => ({ record })),
        answered.then((answer) => ({ answer })),
      ]);
      if ('answer' in first && first.answer !== undefined)
        await this.applyAnswer(ctx, record, first.answer, ask);
      const final = 'record' in first ? first.record : await decided;
      if (ctx.signal.aborted) throw new CancelledError('the agent cancelled the call');
      if (ask === 'console-url' && final !== undefined && final.status !== 'pending')
        ctx.agent?.notify?.('notifications/elicitation/complete', { elicitationId: record.id });
      if (final === undefined) return this.refuse(turn, 'APPROVAL_EXPIRED', `approval ${record.id} is gone`);
      return this.settle({ ...turn, plan: { way: 'retry' } }, final);
    } finally {
      stop.abort();
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  /** What the agent's user answered: a decision (when they may decide), or a withdrawal of the call. */
  private async applyAnswer(ctx: CallContext, record: ApprovalRecord, answer: ElicitAnswer, ask: Ask) {
    const who = `the user at the agent (grant '${ctx.grant ?? record.grant}')`;
    if (answer.action !== 'accept') {
      const did = answer.action === 'decline' ? 'declined' : 'cancelled';
      await this.book.decide(record.id, false, who, answer.reason ?? `the user ${did} at the agent`);
    } else if (ask === 'decide' && (answer.decision === 'approve' || answer.decision === 'deny')) {
      await this.book.decide(record.id, answer.decision === 'approve', who, answer.reason);
    }
  }

  /** The approval the call presents (2026-era state) or the one its binding leads to, if any. */
  private async find(turn: Turn, binding: Binding): Promise<Found> {
    const { ctx } = turn;
    const presented = approvalIdOf(ctx.agent?.requestState);
    if (presented === undefined) {
      const record = await this.book.byBinding(turn.key);
      if (record?.status !== 'consumed') return record === undefined ? undefined : { record };
      // Another round of an approved call, carrying what the upstream asked for (its answers, its
      // state): once per round it asked for.
      const round = ctx.agent?.requestState !== undefined || ctx.agent?.inputResponses !== undefined;
      const next = round && (await this.book.takeContinuation(record.id));
      return next ? { continuation: record } : undefined;
    }
    // The gateway's own state and answer go no further than here.
    ctx.consumedInput = { requestState: true, keys: [INPUT_KEY] };
    const record = presented === '' ? undefined : await this.book.get(presented);
    if (record === undefined)
      return {
        result: this.refuse(
          turn,
          'APPROVAL_EXPIRED',
          'the approval this call presents is unknown or has expired',
        ),
      };
    const mismatch = bindingMismatch(record, binding);
    if (mismatch !== undefined) {
      const why = `the approval this call presents (${record.id}) was given for ${mismatch}`;
      return { result: this.refuse(turn, 'APPROVAL_MISMATCH', why, record) };
    }
    const answer = userAnswer(ctx.agent?.inputResponses);
    if (record.status !== 'pending' || answer === undefined || turn.plan?.ask === undefined)
      return { record };
    await this.applyAnswer(ctx, record, answer, turn.plan.ask);
    return { record: (await this.book.get(record.id)) ?? record };
  }

  /** A new approval: the call's quota is reserved now, and held while a person decides. */
  private async admit(turn: Turn, binding: Binding, approval: CompiledApproval): Promise<CallToolResult> {
    const { ctx, plan } = turn;
    const reserved = await reserveLimits(this.deps.counters, ctx);
    if (!reserved.ok) return reserved.denial;
    if (plan === undefined) {
      await Promise.all(reserved.held.map((r) => r.rollback()));
      return this.refuse(
        turn,
        'APPROVAL_UNAVAILABLE',
        approval.approvers.includes('console')
          ? 'this call needs approval, but the gateway has no console to approve it in ("admin" in its config)'
          : 'this call needs the approval of the user at the agent, and this agent cannot ask them (no elicitation)',
      );
    }
    const record = await this.book.create({
      ...binding,
      bindingKey: turn.key,
      arguments: redactArgs(ctx.args, ctx.target.inputSchema(ctx.tool)).value,
      rule: turn.need.pointer,
      reason: turn.need.reason,
      approvers: approval.approvers,
      way: plan.way,
      timeoutMs: approval.timeoutMs,
    });
    this.holds.hold(record.id, reserved.held);
    this.deps.onPending?.(record);
    return this.wait(turn, record);
  }

  async run(ctx: CallContext, next: () => Promise<CallToolResult>): Promise<CallToolResult> {
    const need = needOf(ctx);
    const approval = ctx.rule?.approval;
    if (need === undefined || approval === undefined) return next();
    const binding: Binding = {
      grant: ctx.grant ?? '',
      server: ctx.server,
      tool: ctx.tool,
      argsHash: argumentsHash(ctx.effectiveArgs ?? ctx.args),
      policyVersion: ctx.policy?.version ?? '',
    };
    const plan = planFor(ctx.agent, approval.approvers, this.deps.consoleUrl() !== undefined);
    const turn: Turn = { ctx, need, key: bindingKey(binding), plan, next };
    const found = await this.find(turn, binding);
    if (found === undefined) return this.admit(turn, binding, approval);
    if ('result' in found) return found.result;
    if ('record' in found) return this.settle(turn, found.record);
    // Counted like any call (its own units): the approved round that asked for input ran nothing.
    ctx.approval = approvalInfo(found.continuation);
    return this.forward(turn, found.continuation);
  }
}

export function approvalStep(deps: ApprovalDeps): CallStep {
  return new ApprovalStep(deps);
}

function approvalInfo(record: ApprovalRecord): { id: string; status: string; decidedBy?: string } {
  return {
    id: record.id,
    status: record.status,
    ...(record.decidedBy === undefined ? {} : { decidedBy: record.decidedBy }),
  };
}
