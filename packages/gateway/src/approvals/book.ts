/**
 * The approvals, kept in the shared store (store/store.ts) so that every gateway process behind one
 * address sees the same ones: a call admitted by one replica may be approved in the console of
 * another and retried against a third.
 *
 * Exactly-once is built on the store's `take` (read and delete in one step, GETDEL in Redis):
 *   - `approval-open/<id>` exists while the approval is pending; deciding takes it, so of two people
 *     deciding at once (or a decision racing the timeout) exactly one wins;
 *   - `approval-ticket/<id>` exists while an approved call may still be made; redeeming takes it, so
 *     an approval lets exactly one call through, whichever replica it reaches.
 * Records and the binding index (`approval-bindings`, from a call to its approval) outlive their
 * approval by an hour, so a late retry is told what happened and the console can show it.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import type { RecordTable, StateStore } from '../store/store.js';
import type { Binding } from './binding.js';
import { type ApprovalRecord, approvalRecordSchema, type WaitingWay } from './records.js';

/** How long a finished approval's record stays readable. */
export const RETENTION_MS = 60 * 60_000;
/** How often a waiting call (or a held quota) looks at the store for a decision made by another process. */
export const DEFAULT_POLL_MS = 1_000;

export interface OpenApproval extends Binding {
  bindingKey: string;
  arguments: unknown;
  rule: string;
  reason: string;
  approvers: ReadonlyArray<'console' | 'user'>;
  way: WaitingWay;
  timeoutMs: number;
}

export type DecideResult =
  | { ok: true; record: ApprovalRecord }
  | { ok: false; why: 'unknown' | 'decided' | 'expired'; record?: ApprovalRecord };

export class ApprovalBook {
  private readonly records: RecordTable<unknown>;
  private readonly open: RecordTable<true>;
  private readonly tickets: RecordTable<true>;
  private readonly bindings: RecordTable<string>;
  private readonly continuations: RecordTable<true>;
  private readonly events = new EventEmitter();
  private readonly waits = new Set<() => void>();

  constructor(
    store: StateStore,
    private readonly clock: Clock,
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {
    this.records = store.table('approvals');
    this.open = store.table('approval-open');
    this.tickets = store.table('approval-tickets');
    this.bindings = store.table('approval-bindings');
    this.continuations = store.table('approval-continuations');
    this.events.setMaxListeners(0);
  }

  /** The time approvals are reckoned in (the gateway's clock). */
  now(): number {
    return this.clock.now();
  }

  async create(input: OpenApproval): Promise<ApprovalRecord> {
    const now = this.clock.now();
    const record: ApprovalRecord = {
      id: randomUUID(),
      status: 'pending',
      grant: input.grant,
      server: input.server,
      tool: input.tool,
      argsHash: input.argsHash,
      policyVersion: input.policyVersion,
      arguments: input.arguments,
      rule: input.rule,
      reason: input.reason,
      approvers: [...input.approvers],
      way: input.way,
      createdAt: now,
      expiresAt: now + input.timeoutMs,
    };
    // Markers outlive the deadline: the deadline is the record's, checked on every read, and taking
    // a marker is what makes one decision (or one expiry) win.
    await this.records.put(record.id, record, input.timeoutMs + RETENTION_MS);
    await this.open.put(record.id, true, input.timeoutMs + RETENTION_MS);
    await this.bindings.put(input.bindingKey, record.id, input.timeoutMs + RETENTION_MS);
    this.events.emit('changed', record);
    return record;
  }

  /** The record, with one past its time ended as expired first (the store is told lazily). */
  async get(id: string): Promise<ApprovalRecord | undefined> {
    const record = await this.read(id);
    return record !== undefined && this.due(record) ? this.expire(id) : record;
  }

  private async read(id: string): Promise<ApprovalRecord | undefined> {
    const parsed = approvalRecordSchema.safeParse(await this.records.get(id));
    return parsed.success ? parsed.data : undefined;
  }

  /** Pending past its deadline, or approved and not used in time. */
  private due(record: ApprovalRecord): boolean {
    const now = this.clock.now();
    return (
      (record.status === 'pending' && record.expiresAt <= now) ||
      (record.status === 'approved' && (record.redeemBy ?? 0) <= now)
    );
  }

  async byBinding(key: string): Promise<ApprovalRecord | undefined> {
    const id = await this.bindings.get(key);
    return typeof id === 'string' ? this.get(id) : undefined;
  }

  /** Once an agent was told how its approval ended, the same call asks anew. */
  async forgetBinding(key: string): Promise<void> {
    await this.bindings.delete(key);
  }

  /** Every approval still on record, newest first. */
  async list(): Promise<ApprovalRecord[]> {
    const ids = await this.records.keys();
    const found = await Promise.all(ids.map((id) => this.get(id)));
    return found
      .filter((r): r is ApprovalRecord => r !== undefined)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** A person's decision: exactly one decision wins, and only while the approval is pending. */
  async decide(id: string, approve: boolean, by: string, reason?: string): Promise<DecideResult> {
    const before = await this.get(id);
    if (before === undefined) return { ok: false, why: 'unknown' };
    if (before.status === 'expired') return { ok: false, why: 'expired', record: before };
    if (before.status !== 'pending') return { ok: false, why: 'decided', record: before };
    if ((await this.open.take(id)) === undefined) {
      const now = await this.read(id);
      return {
        ok: false,
        why: now?.status === 'expired' ? 'expired' : 'decided',
        ...(now ? { record: now } : {}),
      };
    }
    const now = this.clock.now();
    const timeoutMs = before.expiresAt - before.createdAt;
    const record: ApprovalRecord = {
      ...before,
      status: approve ? 'approved' : 'denied',
      decidedBy: by,
      decidedAt: now,
      ...(reason === undefined || reason === '' ? {} : { decisionReason: reason }),
      // An approved call has the approval's own timeout, from the decision, to be made.
      ...(approve ? { redeemBy: now + timeoutMs } : {}),
    };
    await this.records.put(id, record, timeoutMs + RETENTION_MS);
    if (approve) await this.tickets.put(id, true, timeoutMs + RETENTION_MS);
    this.events.emit('changed', record);
    return { ok: true, record };
  }

  /**
   * Ends a pending approval nobody decided on, or an approved one nobody used, once its time is up.
   * Returns the record as it now stands (whoever got there first).
   */
  async expire(id: string): Promise<ApprovalRecord | undefined> {
    const record = await this.read(id);
    if (record === undefined || !this.due(record)) return record;
    // Whoever takes the marker writes the end; a decision or a redemption that got it first stands.
    const marker = record.status === 'pending' ? this.open : this.tickets;
    if ((await marker.take(id)) === undefined) return this.read(id);
    const ended: ApprovalRecord = {
      ...record,
      status: 'expired',
      decidedBy: '(timeout)',
      decidedAt: this.clock.now(),
      decisionReason:
        record.status === 'approved'
          ? `approved by ${record.decidedBy ?? 'an approver'}, but the call was not made in time`
          : 'nobody decided in time',
    };
    await this.records.put(id, ended, RETENTION_MS);
    this.events.emit('changed', ended);
    return ended;
  }

  /** Uses an approved approval for the call in hand: true exactly once, and only in time. */
  async redeem(id: string): Promise<boolean> {
    const record = await this.get(id);
    if (record?.status !== 'approved') return false;
    if ((await this.tickets.take(id)) === undefined) return false;
    const consumed: ApprovalRecord = { ...record, status: 'consumed' };
    await this.records.put(id, consumed, RETENTION_MS);
    this.events.emit('changed', consumed);
    return true;
  }

  /**
   * The approved call's upstream asked for input: its next round (same call, the upstream's state)
   * may go through once, until the approval's own time is up.
   */
  async allowContinuation(id: string, bindingKey: string, until: number): Promise<void> {
    const ttl = Math.max(1, until - this.clock.now());
    await this.continuations.put(id, true, ttl);
    await this.bindings.put(bindingKey, id, ttl);
  }

  /** Uses the continuation of `id`: true once per round the upstream asked input for. */
  async takeContinuation(id: string): Promise<boolean> {
    return (await this.continuations.take(id)) !== undefined;
  }

  /** The redeemed call finished: whether it ran upstream (its held quota is kept or returned). */
  async recordRun(id: string, ran: boolean): Promise<void> {
    const record = await this.read(id);
    if (record === undefined) return;
    const done: ApprovalRecord = { ...record, ran };
    await this.records.put(id, done, RETENTION_MS);
    this.events.emit('changed', done);
  }

  /** Hears every change this process makes (others' are seen by polling). */
  onChange(listener: (record: ApprovalRecord) => void): () => void {
    this.events.on('changed', listener);
    return () => this.events.off('changed', listener);
  }

  /**
   * Resolves with the record once it is no longer pending, or as it stands at `until` or when
   * `signal` aborts. Decisions made in this process arrive at once; another process's are read from
   * the store every `pollMs`.
   */
  waitForDecision(id: string, until: number, signal?: AbortSignal): Promise<ApprovalRecord | undefined> {
    return new Promise((resolve) => {
      let done = false;
      let poll: NodeJS.Timeout | undefined;
      const finish = async () => {
        if (done) return;
        done = true;
        clearTimeout(poll);
        clearTimeout(deadline);
        off();
        signal?.removeEventListener('abort', onAbort);
        this.waits.delete(stop);
        resolve(await this.get(id));
      };
      const stop = () => void finish();
      const onAbort = () => void finish();
      const off = this.onChange((record) => {
        if (record.id === id && record.status !== 'pending') void finish();
      });
      const check = async () => {
        const record = await this.get(id);
        if (done) return;
        if (record === undefined || record.status !== 'pending') return finish();
        poll = setTimeout(check, this.pollMs);
        poll.unref();
      };
      const deadline = setTimeout(stop, Math.max(0, until - this.clock.now()));
      deadline.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waits.add(stop);
      if (signal?.aborted) return void finish();
      void check();
    });
  }

  /** Ends every wait (each resolves with the record as it stands). */
  close(): void {
    for (const stop of [...this.waits]) stop();
    this.events.removeAllListeners();
  }
}
