/**
 * How an agent waits for a person's decision, in the order of preference of issue 12:
 *   1. a 2026-07-28 agent that declared elicitation: an `input_required` result carrying an
 *      `elicitation/create` (multi round-trip requests); it retries with the answer and the
 *      `requestState` echoed;
 *   2. a 2025-era agent that declared elicitation: an `elicitation/create` request within the call
 *      (form mode when the person at the agent may decide; URL mode, a link to the console, when an
 *      admin decides and the agent supports it);
 *   3. any other agent: a tool error starting `[APPROVAL REQUIRED]` that names the rule and the
 *      console URL; the same call retried succeeds once it has been approved.
 *
 * The `requestState` handed to a 2026-era agent is the approval's id behind a fixed prefix. It is
 * not signed: everything an approval is bound to (grant, server, tool, arguments, policy version)
 * is kept in the store and checked on the retry, and the id is 122 random bits, so a tampered state
 * can only make the retry fail (the MRTR page allows leaving out integrity protection then).
 */
import type { AgentLink, CallToolResult } from '../pipeline/context.js';
import { gatewayError } from '../pipeline/denial.js';
import type { Approver } from '../policy/schema.js';
import type { ApprovalRecord } from './records.js';

export const APPROVAL_REQUIRED_PREFIX = '[APPROVAL REQUIRED]';
/** The key of the gateway's own input request in `inputRequests` / `inputResponses`. */
export const INPUT_KEY = 'dev.bastion/approval';
const STATE_PREFIX = 'bastion-approval:';

export type Way = 'input_required' | 'elicitation' | 'retry';
/** What is asked through elicitation: the decision itself (form), or to wait for the console. */
export type Ask = 'decide' | 'console-url' | 'console-form';

export interface WaitPlan {
  way: Way;
  /** Through elicitation: what the agent's user is asked. */
  ask?: Ask;
}

/**
 * How this agent waits, or undefined when it cannot: only the person at the agent may decide and
 * the agent cannot ask them, or only the console may and there is none.
 */
export function planFor(
  agent: AgentLink | undefined,
  approvers: ReadonlyArray<Approver>,
  consoleAvailable: boolean,
): WaitPlan | undefined {
  const elicitation = agent?.elicitation;
  const canAsk = agent?.era === 'modern' || agent?.ask !== undefined;
  const byConsole = approvers.includes('console') && consoleAvailable;
  const way: Way = agent?.era === 'modern' ? 'input_required' : 'elicitation';
  if (canAsk && elicitation !== undefined) {
    if (approvers.includes('user') && elicitation.form) return { way, ask: 'decide' };
    if (byConsole && elicitation.url) return { way, ask: 'console-url' };
    if (byConsole && elicitation.form) return { way, ask: 'console-form' };
  }
  return byConsole ? { way: 'retry' } : undefined;
}

export function approvalLink(consoleUrl: string | undefined, id: string): string | undefined {
  return consoleUrl === undefined ? undefined : `${consoleUrl}/approvals/${encodeURIComponent(id)}`;
}

function summary(record: ApprovalRecord): string {
  const args = JSON.stringify(record.arguments);
  const shown = args.length > 300 ? `${args.slice(0, 300)}…` : args;
  return `'${record.tool}' on server '${record.server}' with ${shown}`;
}

/** The `elicitation/create` params for the agent's user (`era` decides whether URL mode carries an id). */
export function elicitationParams(
  record: ApprovalRecord,
  ask: Ask,
  link: string | undefined,
  era: 'legacy' | 'modern',
): Record<string, unknown> {
  const what = `The Bastion gateway holds a call to ${summary(record)} for approval (${record.reason}).`;
  if (ask === 'decide') {
    return {
      mode: 'form',
      message: `${what} Approve it?`,
      requestedSchema: {
        type: 'object',
        properties: {
          // A plain enum: every client that declares form elicitation accepts it (titled enums are newer).
          decision: { type: 'string', title: 'Decision', enum: ['approve', 'deny'] },
          reason: { type: 'string', title: 'Reason', description: 'Why (kept in the audit log)' },
        },
        required: ['decision'],
      },
    };
  }
  if (ask === 'console-url' && link !== undefined) {
    return {
      mode: 'url',
      message: `${what} An approver decides in the gateway console.`,
      url: link,
      ...(era === 'legacy' ? { elicitationId: record.id } : {}),
    };
  }
  return {
    mode: 'form',
    message: `${what} An approver decides in the gateway console${link === undefined ? '' : ` at ${link}`}. Accept to wait for the decision, decline to withdraw the call.`,
    requestedSchema: { type: 'object', properties: {} },
  };
}

/** The 2026-07-28 answer: the elicitation as an input request, or (a retry still waiting) the state only. */
export function inputRequiredResult(
  record: ApprovalRecord,
  params: Record<string, unknown> | undefined,
): CallToolResult {
  return {
    resultType: 'input_required',
    ...(params === undefined
      ? {}
      : { inputRequests: { [INPUT_KEY]: { method: 'elicitation/create', params } } }),
    requestState: `${STATE_PREFIX}${record.id}`,
  } as unknown as CallToolResult;
}

/** The approval id in a `requestState` the gateway handed out, or undefined (none, or the upstream's). */
export function approvalIdOf(requestState: string | undefined): string | undefined {
  if (requestState === undefined || !requestState.startsWith(STATE_PREFIX)) return undefined;
  const id = requestState.slice(STATE_PREFIX.length);
  return /^[0-9a-f-]{36}$/.test(id) ? id : '';
}

export interface ElicitAnswer {
  action: string;
  decision?: string;
  reason?: string;
}

/** The answer of the agent's user to the gateway's input request, when the retry carries one. */
export function userAnswer(
  inputResponses: Readonly<Record<string, unknown>> | undefined,
): ElicitAnswer | undefined {
  const answer = inputResponses?.[INPUT_KEY];
  return elicitAnswer(answer);
}

/** An `ElicitResult`, read defensively (it comes from the agent). */
export function elicitAnswer(
  value: unknown,
): { action: string; decision?: string; reason?: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { action, content } = value as { action?: unknown; content?: unknown };
  if (typeof action !== 'string') return undefined;
  const fields = content !== null && typeof content === 'object' ? (content as Record<string, unknown>) : {};
  return {
    action,
    ...(typeof fields.decision === 'string' ? { decision: fields.decision } : {}),
    ...(typeof fields.reason === 'string' ? { reason: fields.reason } : {}),
  };
}

/** The tool error of an agent that cannot be asked: retry the same call once it is approved. */
export function approvalRequiredResult(record: ApprovalRecord, link: string | undefined): CallToolResult {
  const where = link === undefined ? 'in the gateway console' : `in the gateway console at ${link}`;
  const expires = new Date(record.expiresAt).toISOString();
  return gatewayError(
    'APPROVAL_REQUIRED',
    `${APPROVAL_REQUIRED_PREFIX} the call to ${summary(record)} needs a person's approval (rule ` +
      `${record.rule}: ${record.reason}). Ask an approver to approve it ${where}, then make the same ` +
      `call again with the same arguments. Approval ${record.id} expires at ${expires}.`,
    {
      approval: record.id,
      rule: record.rule,
      reason: record.reason,
      expiresAt: expires,
      ...(link === undefined ? {} : { url: link }),
    },
  );
}
