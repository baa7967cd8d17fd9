/**
 * The console's live feed: the latest decisions this process recorded (calls allowed, denied or
 * waiting, approvals decided, pins accepted), as the audit log has them (arguments redacted), kept
 * in a ring of the last `size`. Each has a sequence number, so a page asks only for what is new.
 * A replica shows its own decisions; the audit logs hold them all.
 */
import type { AuditEntry } from '../audit/log.js';

export interface FeedItem {
  seq: number;
  entry: AuditEntry;
}

export class DecisionFeed {
  private readonly items: FeedItem[] = [];
  private seq = 0;

  constructor(private readonly size = 200) {}

  push(entry: AuditEntry): void {
    this.items.push({ seq: ++this.seq, entry });
    if (this.items.length > this.size) this.items.shift();
  }

  /** Items after `seq`, newest first, at most `limit`. */
  after(seq = 0, limit = 50): FeedItem[] {
    return this.items
      .filter((i) => i.seq > seq)
      .slice(-limit)
      .reverse();
  }
}
