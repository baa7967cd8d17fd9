/**
 * Approvals as one service: the book in the shared store, the quota held for calls waiting, the
 * pipeline step, the webhook, and an audit row for every decision, whoever made it (an admin in
 * the console, the user at the agent, or the timeout): the row names who decided.
 */
import type { Logger } from 'pino';
import type { AuditEntry } from '../audit/log.js';
import type { Clock } from '../clock.js';
import type { CounterStore } from '../limits/store.js';
import type { CallStep } from '../pipeline/context.js';
import { approvalStep } from '../pipeline/steps/approval.js';
import type { StateStore } from '../store/store.js';
import { ApprovalBook, DEFAULT_POLL_MS, type DecideResult } from './book.js';
import { QuotaHolds } from './quota.js';
import { type ApprovalRecord, type ApprovalView, viewOf } from './records.js';
import { approvalLink } from './waiting.js';
import { ApprovalWebhook, type WebhookConfig } from './webhook.js';

export interface ApprovalsOptions {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  counters: CounterStore;
  /** The console's base URL (`…/console`), once the gateway listens and has a console. */
  consoleUrl(): string | undefined;
  webhook?: WebhookConfig;
  /** Writes a decision's audit row. */
  record(entry: AuditEntry): void;
  pollMs?: number;
  longPollMs?: number;
}

const DECISIONS: Readonly<Record<string, string>> = {
  approved: 'approve',
  denied: 'deny',
  expired: 'expire',
};

export class Approvals {
  readonly book: ApprovalBook;
  readonly holds: QuotaHolds;
  readonly step: CallStep;
  private readonly webhook: ApprovalWebhook | undefined;
  private readonly off: () => void;

  constructor(private readonly o: ApprovalsOptions) {
    const pollMs = o.pollMs ?? DEFAULT_POLL_MS;
    this.book = new ApprovalBook(o.store, o.clock, pollMs);
    this.holds = new QuotaHolds(this.book, o.logger, pollMs);
    this.webhook = o.webhook === undefined ? undefined : new ApprovalWebhook(o.webhook, o.logger);
    this.step = approvalStep({
      book: this.book,
      holds: this.holds,
      counters: o.counters,
      consoleUrl: o.consoleUrl,
      onPending: (record) => this.announce(record),
      ...(o.longPollMs === undefined ? {} : { longPollMs: o.longPollMs }),
    });
    this.off = this.book.onChange((record) => this.audit(record));
  }

  async list(): Promise<ApprovalView[]> {
    return (await this.book.list()).map(viewOf);
  }

  async get(id: string): Promise<ApprovalView | undefined> {
    const record = await this.book.get(id);
    return record === undefined ? undefined : viewOf(record);
  }

  /** A person's decision in the console (or its API). */
  decide(id: string, approve: boolean, by: string, reason?: string): Promise<DecideResult> {
    return this.book.decide(id, approve, by, reason);
  }

  async close(): Promise<void> {
    this.off();
    this.book.close();
    this.webhook?.close();
    await this.holds.close();
  }

  private announce(record: ApprovalRecord): void {
    const url = approvalLink(this.o.consoleUrl(), record.id);
    this.webhook?.send({
      type: 'approval.pending',
      approval: viewOf(record),
      ...(url === undefined ? {} : { url }),
    });
  }

  private audit(record: ApprovalRecord): void {
    const decision = DECISIONS[record.status];
    if (decision === undefined) return;
    const args = record.arguments;
    this.o.record({
      time: new Date(this.o.clock.now()).toISOString(),
      requestId: record.id,
      grant: record.grant,
      session: '(approval)',
      server: record.server,
      method: 'approval/decide',
      tool: record.tool,
      decision,
      rule: record.rule,
      reason:
        record.decisionReason ?? (record.status === 'expired' ? 'nobody decided in time' : record.reason),
      policyVersion: record.policyVersion,
      argKeys: args !== null && typeof args === 'object' ? Object.keys(args) : [],
      args,
      upstream: null,
      approval: {
        id: record.id,
        status: record.status,
        ...(record.decidedBy ? { decidedBy: record.decidedBy } : {}),
      },
      decidedBy: record.decidedBy ?? '(timeout)',
    });
  }
}
