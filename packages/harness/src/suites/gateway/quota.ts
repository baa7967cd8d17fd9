/**
 * Window arithmetic for the limit checks, from the policy and the ledger of every call the checks
 * made: which limits count a call, how much of a window is left, and in which window a call
 * certainly counted. Fixed windows are aligned to the clock with the gateway's own
 * `fixedWindowStart` (POLICY.md), so both sides cut time at the same instants.
 */
import { type CompiledLimit, type CompiledPolicy, fixedWindowStart, isCallable } from '@bastion/gateway';
import type { LedgerEntry } from './agent.js';
import type { GatewayCheckContext } from './check-kit.js';

/** The limits a call to `name` is counted against: one per counter, the lowest max (POLICY.md). */
export function applicableLimits(policy: CompiledPolicy, name: string): CompiledLimit[] {
  if (!isCallable(policy, name)) return [];
  const all = [...policy.allToolsLimits, ...(policy.rules.get(name)?.limits ?? [])];
  const byCounter = new Map<string, CompiledLimit>();
  for (const limit of all) {
    const seen = byCounter.get(limit.counter);
    if (seen === undefined || limit.max < seen.max) byCounter.set(limit.counter, limit);
  }
  return [...byCounter.values()];
}

export function windowStart(limit: CompiledLimit, now: number): number {
  return limit.sliding ? now - limit.windowMs : fixedWindowStart(now, limit.windowMs);
}

/** The first instant of the next fixed window. */
export function nextWindowStart(limit: CompiledLimit, now: number): number {
  return fixedWindowStart(now, limit.windowMs) + limit.windowMs;
}

/** Ledger entries an admitted call of which counts against `limit` (its counter, its scope). */
export function countsAgainst(ctx: GatewayCheckContext, limit: CompiledLimit, entry: LedgerEntry): boolean {
  return (
    entry.kind === 'admitted' &&
    (limit.scope !== 'session' || entry.session === ctx.agent().id) &&
    applicableLimits(ctx.policy, entry.tool).some((l) => l.counter === limit.counter)
  );
}

/** Admitted calls that count against `limit` since `from` (sent at or after it). */
export function used(ctx: GatewayCheckContext, limit: CompiledLimit, from: number): number {
  return ctx.ledger.entries.filter((e) => e.at >= from && countsAgainst(ctx, limit, e)).length;
}

export function remainingFor(ctx: GatewayCheckContext, limits: CompiledLimit[], now: number): number {
  return Math.min(...limits.map((l) => l.max - used(ctx, l, windowStart(l, now))));
}

/** Did a window of any of `limits` turn (or a counted call slide out) between t0 and t1? */
export function windowMoved(
  ctx: GatewayCheckContext,
  limits: CompiledLimit[],
  t0: number,
  t1: number,
): boolean {
  return limits.some((l) => {
    if (!l.sliding) return Math.floor(t0 / l.windowMs) !== Math.floor(t1 / l.windowMs);
    return ctx.ledger.entries.some((e) => e.at > t0 - l.windowMs && e.at <= t1 - l.windowMs);
  });
}

/**
 * The fixed window a call certainly counted in: the gateway decided somewhere between sending and
 * answer, so a call whose span crosses a window's edge could have counted on either side.
 */
export function certainWindow(limit: CompiledLimit, entry: LedgerEntry): number | undefined {
  const start = fixedWindowStart(entry.at, limit.windowMs);
  return fixedWindowStart(entry.doneAt, limit.windowMs) === start ? start : undefined;
}

const NAMED_WINDOWS: Record<number, string> = {
  1000: 'second',
  60000: 'minute',
  3600000: 'hour',
  86400000: 'day',
};

export function describeWindowLength(windowMs: number): string {
  return NAMED_WINDOWS[windowMs] ?? `${windowMs / 1000} s`;
}

export function describeWindow(limit: CompiledLimit): string {
  const w = describeWindowLength(limit.windowMs);
  return `${limit.max} per ${limit.sliding ? 'sliding ' : ''}${w} (counter '${limit.counter}', ${limit.pointer})`;
}

/** Windows this short are waited out when a check wants a fresh one. */
export const SHORT_WINDOW_MS = 10_000;

export function isShort(limit: CompiledLimit): boolean {
  return !limit.sliding && limit.windowMs <= SHORT_WINDOW_MS;
}

/** How long until the next window of `limit` starts, plus a margin for the two clocks. */
export function untilNextWindow(limit: CompiledLimit, now: number): number {
  return nextWindowStart(limit, now) - now + 30;
}
