/**
 * Exponential backoff with jitter for upstream reconnects: attempt n waits a random time between half
 * and all of min(max, initial * 2^n), so that many sessions losing one upstream at once do not all
 * come back at the same instant ("equal jitter").
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Injected for tests; returns [0, 1). */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call moves one attempt on. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
