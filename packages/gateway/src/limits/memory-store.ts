/**
 * In-process counter store.
 *
 * Written by hand rather than taken from a library: rate-limiter-flexible (the well-kept choice)
 * starts a key's window at its first request instead of aligning windows to the clock, and its
 * "reward" gives points back to whatever window is current rather than the one a reservation was
 * taken in; the documented semantics here are clock-aligned fixed windows with reserve, commit and
 * rollback. Exactness under concurrency comes from doing check-and-increment synchronously: no
 * `await` between reading a count and raising it, so 200 parallel calls against `max: 60` admit 60.
 */
import { type CounterStore, fixedWindowStart, type ReserveRequest, type ReserveResult } from './store.js';

interface FixedEntry {
  kind: 'fixed';
  windowStart: number;
  windowMs: number;
  count: number;
}

interface SlidingEntry {
  kind: 'sliding';
  windowMs: number;
  /** Times of admitted calls, oldest first; each is its own object so a rollback removes exactly it. */
  admitted: Array<{ at: number }>;
}

type Entry = FixedEntry | SlidingEntry;

const resolved = Promise.resolve();

export class MemoryCounterStore implements CounterStore {
  private readonly entries = new Map<string, Entry>();
  private sweepAt = 1024;

  reserve(request: ReserveRequest): Promise<ReserveResult> {
    return Promise.resolve(request.sliding ? this.reserveSliding(request) : this.reserveFixed(request));
  }

  peek(request: Omit<ReserveRequest, 'max'>): Promise<number> {
    return Promise.resolve(this.count(request.key, request.now));
  }

  /** Number of keys held (expired ones included until the next sweep). */
  get size(): number {
    return this.entries.size;
  }

  /** Number of units currently held for `key` (for tests and metrics). */
  count(key: string, now: number): number {
    const entry = this.entries.get(key);
    if (entry === undefined) return 0;
    if (entry.kind === 'fixed') {
      return entry.windowStart === fixedWindowStart(now, entry.windowMs) ? entry.count : 0;
    }
    return entry.admitted.filter((a) => a.at > now - entry.windowMs).length;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private reserveFixed({ key, windowMs, max, now }: ReserveRequest): ReserveResult {
    const windowStart = fixedWindowStart(now, windowMs);
    let entry = this.entries.get(key);
    if (entry === undefined || entry.kind !== 'fixed' || entry.windowMs !== windowMs) {
      entry = { kind: 'fixed', windowStart, windowMs, count: 0 };
      this.entries.set(key, entry);
      this.maybeSweep(now);
    } else if (entry.windowStart !== windowStart) {
      entry.windowStart = windowStart;
      entry.count = 0;
    }
    if (entry.count >= max) return { ok: false, retryAfterMs: windowStart + windowMs - now };
    entry.count++;
    const held = entry;
    let returned = false;
    return {
      ok: true,
      reservation: {
        commit: () => resolved,
        rollback: () => {
          // Only the window the unit was taken from gets it back; a later window starts from zero anyway.
          if (!returned && held.windowStart === windowStart && held.count > 0) held.count--;
          returned = true;
          return resolved;
        },
      },
    };
  }

  private reserveSliding({ key, windowMs, max, now }: ReserveRequest): ReserveResult {
    let entry = this.entries.get(key);
    if (entry === undefined || entry.kind !== 'sliding' || entry.windowMs !== windowMs) {
      entry = { kind: 'sliding', windowMs, admitted: [] };
      this.entries.set(key, entry);
      this.maybeSweep(now);
    }
    const admitted = entry.admitted;
    while (admitted.length > 0 && (admitted[0]?.at ?? 0) <= now - windowMs) admitted.shift();
    if (admitted.length >= max) {
      const oldest = admitted[admitted.length - max]?.at ?? now;
      return { ok: false, retryAfterMs: Math.max(1, oldest + windowMs - now) };
    }
    const mark = { at: now };
    admitted.push(mark);
    return {
      ok: true,
      reservation: {
        commit: () => resolved,
        rollback: () => {
          const i = admitted.indexOf(mark);
          if (i >= 0) admitted.splice(i, 1);
          return resolved;
        },
      },
    };
  }

  /** Drops entries whose window has passed, once the map has grown (keys per session accumulate). */
  private maybeSweep(now: number): void {
    if (this.entries.size < this.sweepAt) return;
    for (const [key, entry] of this.entries) {
      const stale =
        entry.kind === 'fixed'
          ? entry.windowStart + entry.windowMs <= now
          : (entry.admitted.at(-1)?.at ?? Number.NEGATIVE_INFINITY) <= now - entry.windowMs;
      if (stale) this.entries.delete(key);
    }
    this.sweepAt = Math.max(1024, this.entries.size * 2);
  }
}
