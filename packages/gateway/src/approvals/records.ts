/**
 * An approval as it is kept in the shared store, validated with zod whenever it is read back (the
 * store may be another process's Redis: what comes out of it is an edge like any other).
 */
import { z } from 'zod';
import { APPROVERS } from '../policy/schema.js';

export const STORED_STATUSES = ['pending', 'approved', 'denied', 'expired', 'consumed'] as const;
export type ApprovalStatus = (typeof STORED_STATUSES)[number];

/** How the agent waits for the decision (what it was answered when the call was admitted). */
export const WAYS = ['retry', 'elicitation', 'input_required'] as const;
export type WaitingWay = (typeof WAYS)[number];

export const approvalRecordSchema = z.object({
  id: z.string(),
  status: z.enum(STORED_STATUSES),
  grant: z.string(),
  server: z.string(),
  tool: z.string(),
  argsHash: z.string(),
  policyVersion: z.string(),
  /** The call's arguments, redacted as the audit log redacts them (for people to read). */
  arguments: z.unknown(),
  /** JSON Pointer of the rule that asked for approval. */
  rule: z.string(),
  /** Why, for people: the rule's own reason, or the condition that held. */
  reason: z.string(),
  approvers: z.array(z.enum(APPROVERS)),
  way: z.enum(WAYS),
  createdAt: z.number(),
  /** A pending approval nobody decided on by then is expired (and the call denied). */
  expiresAt: z.number(),
  decidedBy: z.string().optional(),
  decidedAt: z.number().optional(),
  decisionReason: z.string().optional(),
  /** Approved: the call must be made (again, for an agent that retries) by then. */
  redeemBy: z.number().optional(),
  /** Consumed: whether the approved call ran upstream (the quota held for it is kept or returned). */
  ran: z.boolean().optional(),
});

export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;

/** What a person (or the API) is shown of an approval. */
export interface ApprovalView {
  id: string;
  status: ApprovalStatus;
  grant: string;
  server: string;
  tool: string;
  arguments: unknown;
  rule: string;
  reason: string;
  approvers: string[];
  createdAt: string;
  expiresAt: string;
  decidedBy?: string;
  decidedAt?: string;
  decisionReason?: string;
}

export function viewOf(record: ApprovalRecord): ApprovalView {
  return {
    id: record.id,
    status: record.status,
    grant: record.grant,
    server: record.server,
    tool: record.tool,
    arguments: record.arguments,
    rule: record.rule,
    reason: record.reason,
    approvers: record.approvers,
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: new Date(record.redeemBy ?? record.expiresAt).toISOString(),
    ...(record.decidedBy === undefined ? {} : { decidedBy: record.decidedBy }),
    ...(record.decidedAt === undefined ? {} : { decidedAt: new Date(record.decidedAt).toISOString() }),
    ...(record.decisionReason === undefined ? {} : { decisionReason: record.decisionReason }),
  };
}
