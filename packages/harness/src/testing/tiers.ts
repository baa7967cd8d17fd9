/**
 * Real-service tiers. A test asks for "an MQTT broker" (or an SSH host, ...) and runs once per tier
 * that can provide one here:
 *   embedded  - in-process (Aedes, the ssh2-based SSH host)
 *   process   - a real binary on PATH (mosquitto, sshd, redis-server) on a random loopback port
 *   container - testcontainers
 *   browser   - Debian's headless Chromium, driven by playwright-core (the gateway console's tests)
 *   external  - an address given by environment variable
 *
 * BASTION_TIERS=embedded,process   runs only those tiers (default: all).
 * BASTION_REQUIRE_TIERS=embedded,process   turns an unavailable tier into a failing test instead of
 * a skip; CI sets it so that a missing mosquitto or sshd can never pass silently.
 *
 * Suite names carry `[tier:NAME]` and, when skipped, `(skipped: why)`; tier-names.ts reads both
 * back for tools/summary-reporter.ts's per-tier summary and the `bastion test` report.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { runState } from './run-state.js';

export const TIERS = ['embedded', 'process', 'container', 'browser', 'external'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * `unsupported`: the tier runs here but cannot do what these tests need (an external broker cannot be
 * restarted by the harness); such a tier is skipped with its reason even when it is required.
 */
export type Availability = { available: true } | { available: false; reason: string; unsupported?: boolean };

/** Something a tier started that must be released when the tests are done. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * How one tier provides one kind of target. `C` names what a test may need beyond the basics
 * ('restart', 'mqtt5', ...); `lacks(need)` says why this tier's target cannot do it, or undefined.
 */
export interface TargetProvider<T extends Stoppable, C extends string = never> {
  /** e.g. 'mqtt-broker', 'ssh-host'. */
  readonly kind: string;
  readonly tier: Tier;
  /** Cheap and synchronous: is the binary on PATH, is the variable set, ... */
  availability(): Availability;
  start(): Promise<T>;
  lacks?(need: C): string | undefined;
  /**
   * Needs the setup is meant to provide (an image new enough), as against what this kind of target
   * can never do: when the tier is required (BASTION_REQUIRE_TIERS), lacking one of them fails the
   * test with the reason instead of skipping it. (A method, like `lacks`, so that a provider with
   * capabilities still fits a list of providers that need none.)
   */
  mustHaveWhenRequired?(need: C): boolean;
}

/**
 * `lacks()` from a capability table: `reasons[need]`, or "<label> has no <need>", for what is false.
 */
export function lacksFrom<C extends string>(
  label: string,
  capabilities: Readonly<Record<C, boolean>>,
  reasons: Partial<Record<C, string>> = {},
): (need: C) => string | undefined {
  return (need) => (capabilities[need] ? undefined : (reasons[need] ?? `${label} has no ${need}`));
}

/** Why `provider` cannot run tests needing all of `needs`, or undefined when it can. */
export function lackingReason<C extends string>(
  provider: TargetProvider<Stoppable, C>,
  needs: ReadonlyArray<C>,
): string | undefined {
  const reasons = needs.map((need) => provider.lacks?.(need)).filter((r) => r !== undefined);
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/**
 * What `itWith(...needs)` declares on `provider`'s tier: the test itself, a skip with the reason, or
 * (a required tier lacking one of its `mustHaveWhenRequired` needs) a failing test with the reason.
 */
export function needsDecision<C extends string>(
  provider: TargetProvider<Stoppable, C>,
  needs: ReadonlyArray<C>,
  selection: TierSelection,
): { outcome: 'run' } | { outcome: 'skip' | 'fail'; reason: string } {
  const reason = lackingReason(provider, needs);
  if (reason === undefined) return { outcome: 'run' };
  const mustHave = needs.filter((need) => provider.mustHaveWhenRequired?.(need) === true);
  const failing = selection.required.has(provider.tier) && lackingReason(provider, mustHave) !== undefined;
  return { outcome: failing ? 'fail' : 'skip', reason };
}

/**
 * The same providers, with those lacking one of `needs` turned into a skip with the reason, so that
 * the summary says why a tier did not run these tests (rather than leaving it out unseen).
 */
export function providersWith<T extends Stoppable, C extends string, P extends TargetProvider<T, C>>(
  providers: ReadonlyArray<P>,
  needs: ReadonlyArray<C>,
): P[] {
  return providers.map((provider) => {
    const reason = lackingReason(provider, needs);
    if (reason === undefined) return provider;
    return {
      ...provider,
      // A tier that cannot run at all says so first; one that runs but lacks a need, that.
      availability(): Availability {
        const base = provider.availability();
        return base.available ? { available: false, reason, unsupported: true } : base;
      },
    };
  });
}

function parseTiers(value: string | undefined, variable: string): Set<Tier> | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const tiers = new Set<Tier>();
  for (const raw of value.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if (!(TIERS as readonly string[]).includes(name)) {
      throw new Error(`${variable}: unknown tier '${name}' (known: ${TIERS.join(', ')})`);
    }
    tiers.add(name as Tier);
  }
  return tiers;
}

export interface TierSelection {
  selected: Set<Tier>;
  required: Set<Tier>;
}

export function tierSelection(env: NodeJS.ProcessEnv = process.env): TierSelection {
  const required = parseTiers(env.BASTION_REQUIRE_TIERS, 'BASTION_REQUIRE_TIERS') ?? new Set<Tier>();
  const selected = parseTiers(env.BASTION_TIERS, 'BASTION_TIERS') ?? new Set<Tier>(TIERS);
  // A required tier is always selected: requiring it and filtering it out would pass silently.
  for (const tier of required) selected.add(tier);
  return { selected, required };
}

type TestBody = () => unknown;

export interface TierContext<T, C extends string = never> {
  tier: Tier;
  /** The running target; only valid inside tests and hooks. */
  target(): T;
  /**
   * `it` for a test that needs more than the basics: declared normally where this tier's target can
   * do all of `needs`, else declared skipped with the reason in its title (which the summary shows).
   */
  itWith(...needs: C[]): (title: string, fn: TestBody, timeout?: number) => void;
  /** Why this tier's target cannot do all of `needs`, or undefined when it can. */
  lacks(...needs: C[]): string | undefined;
}

/** A tier whose one-time check at the start of the run failed (the global setup), with why. */
function preflightFailure(tier: Tier): Availability | undefined {
  const checked = runState()?.preflight[tier];
  return checked !== undefined && !checked.available ? checked : undefined;
}

/**
 * Declares `body`'s tests once per provider. An unselected or unavailable tier is reported as
 * skipped with its reason, unless it is required, in which case a failing test says why.
 */
export function describeEachTier<T extends Stoppable, C extends string = never>(
  title: string,
  providers: ReadonlyArray<TargetProvider<T, C>>,
  body: (ctx: TierContext<T, C>) => void,
  selection: TierSelection = tierSelection(),
): void {
  for (const provider of providers) {
    const name = `${title} [tier:${provider.tier}]`;
    let target: T | undefined;
    const ctx: TierContext<T, C> = {
      tier: provider.tier,
      target: () => {
        if (target === undefined) throw new Error(`${provider.kind} (${provider.tier}) is not running`);
        return target;
      },
      lacks: (...needs) => lackingReason(provider, needs),
      itWith: (...needs) => {
        const decided = needsDecision(provider, needs, selection);
        if (decided.outcome === 'run') return (title, fn, timeout) => it(title, fn, timeout);
        const { reason } = decided;
        if (decided.outcome === 'fail') {
          return (title) =>
            it(`${title} (required by BASTION_REQUIRE_TIERS)`, () => {
              throw new Error(`the ${provider.tier} tier must run this test but cannot: ${reason}`);
            });
        }
        return (title, fn, timeout) => it.skip(`${title} (skipped: ${reason})`, fn, timeout);
      },
    };
    const availability: Availability = selection.selected.has(provider.tier)
      ? (preflightFailure(provider.tier) ?? provider.availability())
      : { available: false, reason: 'not in BASTION_TIERS' };
    if (!availability.available) {
      if (selection.required.has(provider.tier) && availability.unsupported !== true) {
        describe(name, () => {
          it(`has a ${provider.kind} available (required by BASTION_REQUIRE_TIERS)`, () => {
            throw new Error(
              `${provider.kind} in tier '${provider.tier}' is unavailable: ${availability.reason}`,
            );
          });
        });
      } else {
        describe.skip(`${name} (skipped: ${availability.reason})`, () => body(ctx));
      }
      continue;
    }
    describe(name, () => {
      beforeAll(async () => {
        target = await provider.start();
      });
      afterAll(async () => {
        await target?.stop();
        target = undefined;
      });
      body(ctx);
    });
  }
}
