/**
 * Reads back what testing/tiers.ts puts in suite and test names: `[tier:NAME]` and, for a skipped
 * tier, `(skipped: why)`. Shared by the `bastion test` report and tools/summary-reporter.ts, so this
 * module imports nothing (the vitest config loads that reporter).
 */
const TIER_TAG = /\[tier:([a-z]+)\]/;
// The reason may hold parentheses itself; it ends where the suite name does (` > ` or the end).
const SKIP_REASON = /\(skipped: (.*?)\)(?= > |$)/;

/** The tier a test's full name (suites included) carries, or null, and the skip reason if any. */
export function tierOf(fullName: string): { tier: string | null; skipReason?: string } {
  const tier = TIER_TAG.exec(fullName)?.[1] ?? null;
  const reason = SKIP_REASON.exec(fullName)?.[1];
  return reason === undefined ? { tier } : { tier, skipReason: reason };
}
