/**
 * Timeouts of upstream requests. One sweep over the requests in flight twice a second instead of a
 * timer per request: a call then costs a Set insertion and deletion, and progress that resets a
 * request's timeout is one assignment.
 */
export interface Deadline {
  /** When the request times out (ms since the epoch); progress moves it. */
  at: number;
  expire(): void;
}

const SWEEP_MS = 500;

export class Deadlines {
  private readonly entries = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  add(entry: Deadline): void {
    this.entries.add(entry);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  delete(entry: Deadline): void {
    this.entries.delete(entry);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const entry of this.entries) {
      if (entry.at <= now) {
        this.entries.delete(entry);
        entry.expire();
      }
    }
    if (this.entries.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export const deadlines = new Deadlines();
