/**
 * Quota held for calls admitted for approval. A call that needs approval reserves its rate-limit
 * units when it is admitted (so approving it later can never exceed a limit), and those units are
 * returned when the approval is denied or times out, and kept once the approved call ran.
 *
 * Reservations are objects of the process that took them (the counter store's `Reservation`), so
 * they are held here, by approval id:
 *   - the approved call reaches this process: the hold is handed to it (`take`), and the limits step
 *     settles it like its own reservation;
 *   - it reaches another replica: that one records on the approval whether the call ran
 *     (`ApprovalBook.recordRun`), and this process settles the hold when it reads that;
 *   - the approval is denied or expires: the hold is returned.
 * Holds are looked at when this process changes an approval, and every `pollMs` while any exist
 * (one timer for all of them, stopped when none is left).
 */
import type { Logger } from 'pino';
import type { Reservation } from '../limits/store.js';
import type { ApprovalBook } from './book.js';
import type { ApprovalRecord } from './records.js';

interface Hold {
  held: Reservation[];
}

export class QuotaHolds {
  private readonly holds = new Map<string, Hold>();
  private timer: NodeJS.Timeout | undefined;
  private readonly off: () => void;

  constructor(
    private readonly book: ApprovalBook,
    private readonly logger: Logger,
    private readonly pollMs: number,
  ) {
    this.off = book.onChange((record) => void this.check(record));
  }

  get size(): number {
    return this.holds.size;
  }

  hold(id: string, held: Reservation[]): void {
    if (held.length === 0) return;
    this.holds.set(id, { held });
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.sweep(), this.pollMs);
      this.timer.unref();
    }
  }

  /** Hands the hold to the approved call that redeems it here (undefined: none held here). */
  take(id: string): Reservation[] | undefined {
    const hold = this.holds.get(id);
    if (hold === undefined) return undefined;
    this.drop(id);
    return hold.held;
  }

  async close(): Promise<void> {
    this.off();
    clearInterval(this.timer);
    this.timer = undefined;
    // The calls never ran through this process: their units go back.
    const left = [...this.holds.keys()];
    await Promise.all(left.map((id) => this.settle(id, false)));
  }

  private async sweep(): Promise<void> {
    for (const id of [...this.holds.keys()]) {
      try {
        const record = await this.book.get(id);
        if (record === undefined) await this.settle(id, false);
        else await this.check(record);
      } catch (err) {
        this.logger.warn({ err, approval: id }, 'could not read an approval whose quota is held');
      }
    }
  }

  private async check(record: ApprovalRecord): Promise<void> {
    if (!this.holds.has(record.id)) return;
    if (record.status === 'denied' || record.status === 'expired') await this.settle(record.id, false);
    else if (record.status === 'consumed' && record.ran !== undefined)
      await this.settle(record.id, record.ran);
  }

  private async settle(id: string, ran: boolean): Promise<void> {
    const hold = this.holds.get(id);
    if (hold === undefined) return;
    this.drop(id);
    await Promise.all(hold.held.map((r) => (ran ? r.commit() : r.rollback())));
  }

  private drop(id: string): void {
    this.holds.delete(id);
    if (this.holds.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
