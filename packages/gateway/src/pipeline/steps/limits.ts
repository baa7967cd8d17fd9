/**
 * Step 6: rate limits. Reserves one unit in every counter that applies (`all_tools.limits`, then the
 * tool's own) before the call goes on; if one is exhausted, the units already taken are returned and
 * the call is denied with the limit's pointer and `retryAfterMs`. On the way back it commits, or rolls
 * back when the upstream never ran the call (not forwarded, a protocol error, or an upstream that
 * could not be reached). A call caught in flight by an upstream restart may have run, so it keeps its unit.
 *
 * A shared counter store that cannot be asked (Redis down or too slow) fails closed: the call is
 * denied with COUNTERS_UNAVAILABLE and the limit's pointer, never admitted uncounted. A call with no
 * limit never asks the store, so it passes while Redis is down.
 *
 * A call that redeems an approval brings the units reserved when it was admitted for approval
 * (`ctx.prepaid`): it is not counted twice, and is not refused for the units its own approval holds.
 */

import {
  type CounterStore,
  CounterStoreUnavailableError,
  type Reservation,
  type ReserveResult,
} from '../../limits/store.js';
import type { CompiledLimit } from '../../policy/compile.js';
import type { CallContext, CallStep, CallToolResult, UpstreamOutcomeKind } from '../context.js';
import { deny } from '../denial.js';

/**
 * Outcomes that leave the quota untouched: the call never ran, or it is not finished yet
 * (`input_required`: the agent retries it with the input asked for, and the retry is counted).
 */
const NOT_RUN: ReadonlySet<UpstreamOutcomeKind> = new Set([
  'protocol-error',
  'unavailable',
  'input_required',
]);

function scopeKey(limit: CompiledLimit, ctx: Pick<CallContext, 'grant' | 'sessionId'>): string {
  switch (limit.scope) {
    case 'grant':
      return `grant:${ctx.grant ?? ''}`;
    case 'session':
      return `session:${ctx.sessionId}`;
    case 'global':
      return 'global';
  }
}

/** Counters are per server: two servers' policies may both name a counter `calls`. */
export function counterKey(
  limit: CompiledLimit,
  ctx: Pick<CallContext, 'server' | 'grant' | 'sessionId'>,
): string {
  return JSON.stringify([ctx.server, limit.counter, scopeKey(limit, ctx)]);
}

function describeWindow(ms: number): string {
  const named: Record<number, string> = { 1000: 'second', 60000: 'minute', 3600000: 'hour', 86400000: 'day' };
  return named[ms] ?? `${ms / 1000} seconds`;
}

/** The limits of one call, one per counter: limits sharing a counter share one unit, the lowest max rules. */
function applicableLimits(ctx: CallContext): CompiledLimit[] {
  const all = [...(ctx.policy?.allToolsLimits ?? []), ...(ctx.rule?.limits ?? [])];
  const byCounter = new Map<string, CompiledLimit>();
  for (const limit of all) {
    const seen = byCounter.get(limit.counter);
    if (seen === undefined || limit.max < seen.max) byCounter.set(limit.counter, limit);
  }
  return [...byCounter.values()];
}

export type LimitsOutcome = { ok: true; held: Reservation[] } | { ok: false; denial: CallToolResult };

/**
 * Reserves one unit in every counter that applies to the call, or none: when one is exhausted the
 * units already taken are returned and the denial (with the limit's pointer and `retryAfterMs`) is
 * recorded on the context. Also used by the approval step, which reserves when it admits a call.
 */
export async function reserveLimits(store: CounterStore, ctx: CallContext): Promise<LimitsOutcome> {
  const held: Reservation[] = [];
  for (const limit of applicableLimits(ctx)) {
    let result: ReserveResult;
    try {
      result = await store.reserve({
        key: counterKey(limit, ctx),
        windowMs: limit.windowMs,
        max: limit.max,
        now: ctx.now,
        sliding: limit.sliding,
      });
    } catch (err) {
      await Promise.all(held.map((r) => r.rollback()));
      if (!(err instanceof CounterStoreUnavailableError)) throw err;
      return { ok: false, denial: countersUnavailable(ctx, limit, err) };
    }
    if (!result.ok) {
      await Promise.all(held.map((r) => r.rollback()));
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      return {
        ok: false,
        denial: deny(ctx, {
          rule: limit.pointer,
          reason:
            ctx.rule?.onDeny ??
            `rate limit reached: at most ${limit.max} call(s) per ${describeWindow(limit.windowMs)} ` +
              `(counter '${limit.counter}'); retry in ${seconds} s`,
          retryAfterMs: result.retryAfterMs,
        }),
      };
    }
    held.push(result.reservation);
  }
  return { ok: true, held };
}

/** Whether the call ran upstream (so its units are kept), from its outcome. */
export function callRan(ctx: CallContext): boolean {
  // No upstream outcome: a later step stopped the call before it was forwarded.
  const outcome = ctx.upstream?.outcome;
  return outcome !== undefined && !NOT_RUN.has(outcome);
}

export function limitsStep(store: CounterStore): CallStep {
  return {
    name: 'limits',
    run: async (ctx, next) => {
      // Admitted for approval earlier: its units were reserved then, and are settled here.
      const prepaid = ctx.prepaid;
      const reserved =
        prepaid === undefined ? await reserveLimits(store, ctx) : { ok: true as const, held: [] };
      if (!reserved.ok) return reserved.denial;
      const { held } = reserved;
      if (held.length === 0 && prepaid === undefined) return next();
      const settle = async () => {
        const ran = callRan(ctx);
        await Promise.all(held.map((r) => (ran ? r.commit() : r.rollback())));
        await prepaid?.settle(ran);
      };
      try {
        const result = await next();
        await settle();
        return result;
      } catch (err) {
        await settle();
        throw err;
      }
    },
  };
}

/** How long an agent is told to wait before trying again while the counter store is unreachable. */
const COUNTERS_RETRY_MS = 1_000;

function countersUnavailable(ctx: CallContext, limit: CompiledLimit, err: Error) {
  return deny(ctx, {
    rule: limit.pointer,
    code: 'COUNTERS_UNAVAILABLE',
    reason:
      `the rate-limit counters cannot be checked right now (counter '${limit.counter}'), so the call ` +
      `was not made: ${err.message}; retry shortly`,
    retryAfterMs: COUNTERS_RETRY_MS,
  });
}
