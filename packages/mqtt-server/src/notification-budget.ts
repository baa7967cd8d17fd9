/**
 * How many received messages a connection pushes to the client as notifications: a token bucket of
 * `perSecond` tokens a second holding at most one second's worth. Beyond it a message is not pushed
 * and only counted; it stays in the buffer for mqttReadMessages, the lossless path.
 *
 * Why: during the burst of issue 13 (10,000 messages at 12,000 msg/s) the SDK client spent seconds
 * parsing one notification per message, and its reads, queued behind them, were answered late (one
 * read in three seconds) while the buffer overflowed. Pushing at a rate a client can take keeps
 * reads answered while notifications flow.
 */
export interface NotificationStatus {
  /** Notifications a second this connection pushes at most (0: no limit). */
  perSecond: number;
  sent: number;
  /** Messages received but not pushed because of the limit (still buffered for reads). */
  skipped: number;
}

/** 'skip-first': the first message held back since the last push, so the client can be told once. */
export type NotificationDecision = 'push' | 'skip-first' | 'skip';

export class NotificationBudget {
  private tokens: number;
  private refilledAt: number;
  private sent = 0;
  private skipped = 0;
  private skipping = false;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.refilledAt = this.now();
  }

  /** Whether the next received message is pushed; counts it either way. */
  take(): NotificationDecision {
    if (this.perSecond > 0) {
      const now = this.now();
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000);
      this.refilledAt = now;
      if (this.tokens < 1) {
        this.skipped++;
        const first = !this.skipping;
        this.skipping = true;
        return first ? 'skip-first' : 'skip';
      }
      this.tokens -= 1;
    }
    this.sent++;
    this.skipping = false;
    return 'push';
  }

  status(): NotificationStatus {
    return { perSecond: this.perSecond, sent: this.sent, skipped: this.skipped };
  }
}

/** What the client is told once when a connection starts holding notifications back. */
export function skippedNotice(connection: string, perSecond: number): string {
  return (
    `More than ${perSecond} messages a second on connection '${connection}': until the rate drops, ` +
    'not every message is sent as a notification. None is lost: read them with mqttReadMessages ' +
    '(mqttStatus counts the skipped notifications).'
  );
}
