/**
 * Three checks per limit, each on its own evidence (issue 14, item 14):
 *
 *   limit-burst   at the top of a window, many more calls than the limit at once (4x max): exactly
 *                 the calls left in the window are admitted, the rest denied
 *   limit-retry   a denial over the limit carries retryAfterMs, no longer than the window
 *   limit-window  no call beyond the limit is admitted anywhere in a window: a burst, calls one at a
 *                 time up to the window's last moment, and a burst at the first moment of the next
 *
 * Stopping at the first denial would pass a gateway that admits every fifth call beyond the limit,
 * or one more near a window's end. Windows are cut with the gateway's own fixedWindowStart; a call
 * counts in a window only when its whole span (sent to answered) lies inside it, so a call the
 * gateway may have decided on either side of an edge is never held against it. Every check stops by
 * itself: the whole-window check watches at most `maxObservedWindowMs` and skips longer windows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CompiledLimit, type CompiledPolicy, fixedWindowStart, isCallable } from '@bastion/gateway';
import { type CallClass, describeCall, type LedgerEntry } from './agent.js';
import {
  admittableTools,
  argsFor,
  check,
  fail,
  type GatewayCheck,
  type GatewayCheckContext,
  hasConditions,
  offeredByUpstream,
  skip,
} from './check-kit.js';
import {
  applicableLimits,
  certainWindow,
  countsAgainst,
  describeWindow,
  describeWindowLength,
  isShort,
  nextWindowStart,
  remainingFor,
  untilNextWindow,
  used,
  windowMoved,
} from './quota.js';

/** A check that would need more calls than this to use up a window skips (it says so). */
const MAX_CALLS_TO_EXHAUST = 300;

/** How many calls go at once: several times the limit, so an extra admission has room to show. */
export function burstSize(max: number): number {
  return Math.min(400, Math.max(12, 4 * max));
}

/** How many calls, one at a time, the whole-window check spreads over what is left of a window. */
function sweepSize(max: number): number {
  return Math.min(300, Math.max(20, 3 * max));
}

interface LimitTarget {
  tool: string;
  args: Record<string, unknown>;
  /** The limit under test, as counted (limits sharing its counter share one unit, lowest max). */
  own: CompiledLimit;
  others: CompiledLimit[];
}

/** The tool a limit check calls, with the limits that count it; skips when none can be called. */
async function limitTarget(
  ctx: GatewayCheckContext,
  limit: CompiledLimit,
  named: string | undefined,
): Promise<LimitTarget> {
  const { policy } = ctx;
  let tool = named;
  if (tool === undefined) {
    const candidates = await admittableTools(ctx);
    tool =
      candidates.find((n) => policy.rules.get(n)?.limits.length === 0) ??
      candidates.find((n) => !policy.rules.has(n)) ??
      candidates[0];
    if (tool === undefined) skip('no tool the policy admits to count against this limit');
  }
  if (!isCallable(policy, tool)) skip(`'${tool}' is never admitted, so its limit never applies`);
  if (hasConditions(policy, tool))
    skip(`'${tool}' has conditions; the generated arguments may not meet them`);
  if (offeredByUpstream(ctx, tool) === false) skip(`the upstream offers no tool '${tool}'`);
  const limits = applicableLimits(policy, tool);
  const own = limits.find((l) => l.counter === limit.counter) ?? limit;
  return { tool, args: await argsFor(ctx, tool), own, others: limits.filter((l) => l !== own) };
}

/**
 * Waits for the top of a fresh window of a short limit under test, and lets a short window of
 * another limit on the same call turn if it would deny first.
 */
async function waitForFreshWindow(ctx: GatewayCheckContext, target: LimitTarget): Promise<void> {
  const now = Date.now();
  const { own, others } = target;
  const waits = [
    ...(isShort(own) ? [untilNextWindow(own, now)] : []),
    ...others
      .filter((o) => isShort(o) && remainingFor(ctx, [o], now) <= remainingFor(ctx, [own], now) + 1)
      .map((o) => untilNextWindow(o, now)),
  ];
  if (waits.length > 0) await sleep(Math.max(...waits));
}

/** Skips when another limit on the call would deny before the one under test. */
function skipIfAnotherBinds(ctx: GatewayCheckContext, target: LimitTarget, remaining: number, at: number) {
  const binding = target.others.find((o) => remainingFor(ctx, [o], at) <= remaining);
  if (binding !== undefined) {
    skip(`another limit on '${target.tool}' would deny first: ${describeWindow(binding)}`);
  }
}

function skipIfRefused(calls: CallClass[], tool: string): void {
  const refused = calls.find((c) => c.kind === 'error');
  if (refused !== undefined && calls.every((c) => c.kind === 'error')) {
    skip(`the upstream refused the generated arguments for '${tool}': ${describeCall(refused)}`);
  }
}

function burst(ctx: GatewayCheckContext, target: LimitTarget, size: number): Promise<CallClass[]> {
  return Promise.all(Array.from({ length: size }, () => ctx.agent().call(target.tool, target.args)));
}

function limitBurstCheck(limit: CompiledLimit, named: string | undefined, label: string): GatewayCheck {
  return check(
    'limit-burst',
    limit.pointer,
    `${label}: at most ${describeWindow(limit)}, exactly, under ${burstSize(limit.max)} calls at once`,
    async (ctx, notes) => {
      const target = await limitTarget(ctx, limit, named);
      const { own, tool } = target;
      for (let attempt = 1; attempt <= 3; attempt++) {
        await waitForFreshWindow(ctx, target);
        const t0 = Date.now();
        const remaining = Math.max(0, remainingFor(ctx, [own], t0));
        skipIfAnotherBinds(ctx, target, remaining, t0);
        if (remaining > MAX_CALLS_TO_EXHAUST) {
          skip(`${remaining} calls left in the window; more than this check makes (${MAX_CALLS_TO_EXHAUST})`);
        }
        const size = Math.max(burstSize(own.max), remaining + 10);
        const first = ctx.ledger.entries.length;
        const calls = await burst(ctx, target, size);
        const context = `${describeWindow(limit)}; ${remaining} of it left when the burst began`;
        // Too many admitted shows even when the burst outlasted its window (on a busy machine): count
        // the calls that certainly fell in each window.
        const w0 = fixedWindowStart(t0, own.windowMs);
        const mine = ctx.ledger.entries.slice(first).filter((e) => countsAgainst(ctx, own, e));
        for (const [start, expected] of [
          [w0, remaining],
          [w0 + own.windowMs, own.max],
        ] as const) {
          const inWindow = mine.filter((e) => certainWindow(own, e) === start).length;
          if (inWindow > expected) {
            fail(
              `admitted ${inWindow}/${expected} of ${size} concurrent calls to '${tool}' in one window: ${context}`,
            );
          }
        }
        // Only the limit under test turning spoils an exact count: the others had more left than
        // this check can use (else it skipped), and a window turning only gives quota back.
        if (windowMoved(ctx, [own], t0, Date.now())) continue;
        skipIfRefused(calls, tool);
        const admitted = calls.filter((c) => c.kind === 'admitted').length;
        const errors = calls.filter((c) => c.kind === 'error');
        if (admitted > remaining) {
          fail(`admitted ${admitted}/${remaining} of ${size} concurrent calls to '${tool}': ${context}`);
        }
        if (admitted < remaining) {
          const first = calls.find((c) => c.kind !== 'admitted');
          fail(
            `admitted only ${admitted}/${remaining} of ${size} concurrent calls to '${tool}': ${context}; ` +
              `the first refusal: ${first === undefined ? '(none)' : describeCall(first)}`,
          );
        }
        if (errors.length > 0) {
          fail(
            `${errors.length} of ${size} concurrent calls to '${tool}' got a JSON-RPC error instead of a denial: ` +
              describeCall(errors[0] as CallClass),
          );
        }
        notes.push(
          `admitted ${admitted}/${remaining} of ${size} concurrent calls; the other ${size - admitted} denied`,
        );
        return;
      }
      skip('the window kept turning while the check ran; run it again');
    },
  );
}

function limitRetryCheck(limit: CompiledLimit, named: string | undefined, label: string): GatewayCheck {
  return check(
    'limit-retry',
    limit.pointer,
    `${label}: the denial over ${describeWindow(limit)} says when to retry (retryAfterMs)`,
    async (ctx, notes) => {
      const target = await limitTarget(ctx, limit, named);
      const { own, tool } = target;
      for (let attempt = 1; attempt <= 3; attempt++) {
        await waitForFreshWindow(ctx, target);
        const t0 = Date.now();
        const remaining = Math.max(0, remainingFor(ctx, [own], t0));
        skipIfAnotherBinds(ctx, target, remaining, t0);
        if (remaining > MAX_CALLS_TO_EXHAUST) {
          skip(`${remaining} calls left in the window; more than this check makes (${MAX_CALLS_TO_EXHAUST})`);
        }
        // What is left and a few more at once (quick, so the window holds on a busy machine): a few
        // past the limit, so one stray admission does not leave this check without a denial to read.
        const calls = await burst(ctx, target, remaining + 3);
        skipIfRefused(calls, tool);
        const denial = calls.find((c) => c.kind === 'denied');
        const context = `${describeWindow(limit)}; ${remaining} of it left when the check began`;
        if (denial === undefined || denial.kind !== 'denied') {
          if (windowMoved(ctx, [own], t0, Date.now())) continue;
          const last = calls[calls.length - 1];
          fail(
            `no call over the limit was denied: ${context}; the last: ${last === undefined ? '(none)' : describeCall(last)}`,
          );
          return;
        }
        const retry = denial.retryAfterMs;
        if (retry === undefined) fail(`the denial over the limit carries no retryAfterMs: ${context}`);
        // The right value is the time to the window's end; allow the two clocks a second or two.
        if (retry > own.windowMs + 2_000) {
          fail(`retryAfterMs is ${retry}, longer than the window itself: ${context}`);
        }
        const admitted = calls.filter((c) => c.kind === 'admitted').length;
        notes.push(
          `${admitted} of ${calls.length} concurrent calls admitted; a denial said retryAfterMs ${retry}`,
        );
        return;
      }
      skip('the window kept turning while the check ran; run it again');
    },
  );
}

/** Offsets into their window of calls past the limit, for a failure message. */
function describeExtras(entries: LedgerEntry[], windowStart: number, expected: number): string {
  return entries
    .slice(expected)
    .map((e) => `+${e.at - windowStart} ms`)
    .join(', ');
}

function tooLongToWatch(ctx: GatewayCheckContext, own: CompiledLimit): void {
  if (own.windowMs <= ctx.maxObservedWindowMs) return;
  const what = `a window of a ${describeWindowLength(own.windowMs)} is longer than the ${ctx.maxObservedWindowMs / 1000} s this check watches whole`;
  if (ctx.ownPolicy) fail(`${what}: the harness's own policies must use windows it can watch`);
  skip(`${what} (--max-window raises it); the burst and retry-after checks still ran`);
}

/**
 * Where the whole-window check starts: a window with a quarter of it left at least, in which no
 * other limit on the call has less left than the one under test (it would deny first, and an
 * admission over it would not show against this limit), nor, for a longer window, too little left
 * for the next window too. Short windows are waited out; otherwise the check skips.
 */
async function windowToWatch(ctx: GatewayCheckContext, target: LimitTarget) {
  const { own, others } = target;
  for (let attempt = 1; attempt <= 4; attempt++) {
    const now = Date.now();
    const expected = Math.max(0, own.max - used(ctx, own, fixedWindowStart(now, own.windowMs)));
    const binding = others.find((o) => {
      const left = remainingFor(ctx, [o], now);
      return left < expected || (o.windowMs > own.windowMs && left < expected + own.max);
    });
    const tooLate = nextWindowStart(own, now) - now < own.windowMs / 4;
    if (binding === undefined && !tooLate) return { t0: now, expected0: expected };
    if (binding !== undefined && !isShort(binding)) {
      skip(
        `another limit on '${target.tool}' has too little left to watch this one: ${describeWindow(binding)}`,
      );
    }
    await sleep(
      Math.max(untilNextWindow(own, now), binding === undefined ? 0 : untilNextWindow(binding, now)),
    );
  }
  return skip('the windows kept turning before the check could start; run it again');
}

function limitWindowCheck(limit: CompiledLimit, named: string | undefined, label: string): GatewayCheck {
  return check(
    'limit-window',
    limit.pointer,
    `${label}: no call beyond ${describeWindow(limit)} is admitted anywhere in a window, start to end`,
    async (ctx, notes) => {
      const target = await limitTarget(ctx, limit, named);
      const { own, tool } = target;
      if (own.sliding) skip('a sliding window has no edges to watch; the burst check counts it');
      tooLongToWatch(ctx, own);
      const tighter = target.others.find((o) => o.max < own.max && o.windowMs >= own.windowMs);
      if (tighter !== undefined)
        skip(`another limit on '${tool}' always denies first: ${describeWindow(tighter)}`);
      const size = burstSize(own.max);
      const sweep = sweepSize(own.max);
      const { t0, expected0 } = await windowToWatch(ctx, target);
      const w0 = fixedWindowStart(t0, own.windowMs);
      const w1 = w0 + own.windowMs;
      const first = ctx.ledger.entries.length;
      await burst(ctx, target, size);
      // One call at a time, evenly spread, up to the window's last moment.
      const s0 = Date.now();
      const gap = (w1 - s0) / sweep;
      let sequential = 0;
      for (let i = 0; i < sweep; i++) {
        const due = s0 + (i + 0.5) * gap;
        if (due > Date.now()) await sleep(due - Date.now());
        if (Date.now() >= w1) break;
        await ctx.agent().call(tool, target.args);
        sequential++;
      }
      await sleep(Math.max(0, w1 - Date.now()) + 5);
      const nextBurst = await burst(ctx, target, size);
      const mine = ctx.ledger.entries.slice(first).filter((e) => countsAgainst(ctx, own, e));
      const inW0 = mine.filter((e) => certainWindow(own, e) === w0);
      const inW1 = mine.filter((e) => certainWindow(own, e) === w1);
      // A call sent in the first window and answered in the next may have been decided in either (a
      // burst answered slowly on a busy machine straddles the edge without being the next window's).
      // The next window alone holds at most max; how the straddlers split is bounded below by the
      // check over both windows together, which a full first window makes exact.
      const expected1 = own.max;
      skipIfRefused(nextBurst, tool);
      const span = describeWindowLength(own.windowMs);
      const problems: string[] = [];
      if (inW0.length > expected0) {
        problems.push(
          `admitted ${inW0.length}/${expected0} calls to '${tool}' in one ${span} (${size} at once, then ` +
            `${sequential} one at a time to its end); past the limit at ${describeExtras(inW0, w0, expected0)} ` +
            `into the window: ${describeWindow(limit)}`,
        );
      }
      // However the edge between them splits the calls, every one was decided in one of the two
      // windows (sent in the first, answered before a third began): together they hold at most this.
      const inBoth = mine.filter((e) => e.doneAt < w1 + own.windowMs).length;
      if (inBoth > expected0 + own.max) {
        problems.push(
          `admitted ${inBoth}/${expected0 + own.max} calls to '${tool}' over two ${span} windows ` +
            `(${size} at once, ${sequential} one at a time to the end of the first, ${size} at once at the start ` +
            `of the second): ${describeWindow(limit)}`,
        );
      }
      if (inW1.length > expected1) {
        problems.push(
          `admitted ${inW1.length}/${expected1} of ${size} concurrent calls to '${tool}' at the start of the ` +
            `next window: ${describeWindow(limit)}`,
        );
      }
      if (problems.length > 0) fail(problems.join('\n'));
      notes.push(
        `one window: ${inW0.length}/${expected0} admitted (${size} at once, ${sequential} one at a time to its end); ` +
          `the next: ${inW1.length}/${expected1} admitted of ${size} at once; both: ${inBoth}/${expected0 + own.max}`,
      );
    },
  );
}

type LimitCheckKind = 'limit-burst' | 'limit-retry' | 'limit-window';

const BUILDERS: Record<LimitCheckKind, typeof limitBurstCheck> = {
  'limit-burst': limitBurstCheck,
  'limit-retry': limitRetryCheck,
  'limit-window': limitWindowCheck,
};

/** One check of `kind` per limit: a tool's own limits first, then all_tools ones. */
export function limitChecks(policy: CompiledPolicy, kind: LimitCheckKind): GatewayCheck[] {
  const targets: Array<{ limit: CompiledLimit; tool: string | undefined }> = [];
  // A tool's own limits first: checking an all_tools limit uses up what every other call needs.
  for (const [name, rule] of policy.rules)
    for (const limit of rule.limits) targets.push({ limit, tool: name });
  for (const limit of policy.allToolsLimits) targets.push({ limit, tool: undefined });
  return targets.map(({ limit, tool }) =>
    BUILDERS[kind](limit, tool, tool === undefined ? 'every tool' : `'${tool}'`),
  );
}
