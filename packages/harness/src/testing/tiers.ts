/**
 * Real-service tiers. A test asks for "an MQTT broker" (or an SSH host, ...) and runs once per tier
 * that can provide one here:
 *   embedded  - in-process (Aedes, the ssh2-based SSH host)
 *   process   - a real binary on PATH (mosquitto, sshd, redis-server) on a random loopback port
 *   container - testcontainers
 *   external  - an address given by environment variable
 *
 * BASTION_TIERS=embedded,process   runs only those tiers (default: all).
 * BASTION_REQUIRE_TIERS=embedded,process   turns an unavailable tier into a failing test instead of
 * a skip; CI sets it so that a missing mosquitto or sshd can never pass silently.
 *
 * Suite names carry `[tier:NAME]` and, when skipped, `(skipped: why)`; tools/summary-reporter.ts
 * reads both to print the per-tier summary.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

export const TIERS = ['embedded', 'process', 'container', 'external'] as const;
export type Tier = (typeof TIERS)[number];

export type Availability = { available: true } | { available: false; reason: string };

/** Something a tier started that must be released when the tests are done. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** How one tier provides one kind of target. */
export interface TargetProvider<T extends Stoppable> {
  /** e.g. 'mqtt-broker', 'ssh-host'. */
  readonly kind: string;
  readonly tier: Tier;
  /** Cheap and synchronous: is the binary on PATH, is the variable set, ... */
  availability(): Availability;
  start(): Promise<T>;
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

export interface TierContext<T> {
  tier: Tier;
  /** The running target; only valid inside tests and hooks. */
  target(): T;
}

/**
 * Declares `body`'s tests once per provider. An unselected or unavailable tier is reported as
 * skipped with its reason, unless it is required, in which case a failing test says why.
 */
export function describeEachTier<T extends Stoppable>(
  title: string,
  providers: ReadonlyArray<TargetProvider<T>>,
  body: (ctx: TierContext<T>) => void,
  selection: TierSelection = tierSelection(),
): void {
  for (const provider of providers) {
    const name = `${title} [tier:${provider.tier}]`;
    let target: T | undefined;
    const ctx: TierContext<T> = {
      tier: provider.tier,
      target: () => {
        if (target === undefined) throw new Error(`${provider.kind} (${provider.tier}) is not running`);
        return target;
      },
    };
    const availability: Availability = selection.selected.has(provider.tier)
      ? provider.availability()
      : { available: false, reason: 'not in BASTION_TIERS' };
    if (!availability.available) {
      if (selection.required.has(provider.tier)) {
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
