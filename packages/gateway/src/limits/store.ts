/**
 * The counter store behind rate limits. A call reserves one unit in each counter that applies before
 * it is forwarded; the reservation is committed when the call went through and rolled back when the
 * upstream refused it with a protocol error, so a call that never ran costs no quota.
 *
 * The interface is asynchronous so that a shared store (Redis, for several gateways behind one
 * address; a later issue) implements it as is: `reserve` as one atomic script per key, `rollback` as a
 * decrement guarded by the window it was taken in.
 */
export interface ReserveRequest {
  /** Counter identity: server, counter name and scope key, already joined. */
  key: string;
  windowMs: number;
  max: number;
  /** The call's time from the injected clock. */
  now: number;
  /** Sliding window (a log of admitted calls) instead of a fixed one aligned to the clock. */
  sliding: boolean;
}

export interface Reservation {
  /** Keeps the unit: the call was forwarded. */
  commit(): Promise<void>;
  /** Returns the unit: the call did not run. Idempotent; a no-op once the window has moved on. */
  rollback(): Promise<void>;
}

export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; retryAfterMs: number };

export interface CounterStore {
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /** Units held now for `key` in the window holding `now` (the console's counters; optional). */
  peek?(request: Omit<ReserveRequest, 'max'>): Promise<number>;
  close(): Promise<void>;
}

/**
 * Start of the fixed window holding `now`. Windows are aligned to the epoch, so a minute window runs
 * from :00 to :59 of the wall clock and a day window from midnight UTC, whatever the first call's time.
 */
export function fixedWindowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

/**
 * The counter store could not be asked (Redis unreachable, or slower than its bounded timeout). A
 * call that needs a counter is then denied with COUNTERS_UNAVAILABLE: never admitted uncounted.
 */
export class CounterStoreUnavailableError extends Error {
  readonly code = 'COUNTERS_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CounterStoreUnavailableError';
  }
}
