/**
 * Reconnect delays: exponential with full jitter (AWS architecture blog, "Exponential Backoff and
 * Jitter"): a random delay in [0, min(max, initial * 2^attempt)], so clients that lost a server
 * together do not come back together.
 *
 * `reset()` is for a link that has proved itself; callers decide when that is. Resetting on every
 * successful connect is how two sessions sharing an MQTT client id took the broker connection from
 * each other every 0.5 s without the delay ever growing.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Source of [0, 1) randomness; tests pass a fixed one. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call counts one attempt. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round((this.options.random ?? Math.random)() * ceiling);
  }

  /** Attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
