/**
 * A vitest reporter that prints, after vitest's own summary:
 *   - per real-service tier (suites tagged `[tier:NAME]` by the harness), how many tests ran, passed,
 *     failed and were skipped, and why a tier was skipped;
 *   - one closing line `tests: N passed, N failed, N skipped` that CI reads (vitest's own summary is
 *     not among the formats CI understands).
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { tierOf } from '../packages/harness/src/testing/tier-names.js';

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  reasons: Set<string>;
}

const newTally = (): Tally => ({ passed: 0, failed: 0, skipped: 0, reasons: new Set() });

function count(tally: Tally, test: TestCase): void {
  const state = test.result().state;
  if (state === 'passed') tally.passed++;
  else if (state === 'failed') tally.failed++;
  else tally.skipped++;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const total = newTally();
    const tiers = new Map<string, Tally>();
    let brokenSuites = 0;
    for (const module of testModules) {
      // A module that fails to load, or a hook that throws, is a failure even with no test failed.
      brokenSuites += module.errors().length;
      for (const suite of module.children.allSuites()) brokenSuites += suite.errors().length;
      for (const test of module.children.allTests()) {
        count(total, test);
        const { tier, skipReason: reason } = tierOf(test.fullName);
        if (tier === null) continue;
        const tally = tiers.get(tier) ?? newTally();
        tiers.set(tier, tally);
        count(tally, test);
        if (reason !== undefined && test.result().state === 'skipped') tally.reasons.add(reason);
      }
    }
    const lines = ['', 'Tiers:'];
    for (const [tier, t] of [...tiers].sort(([a], [b]) => a.localeCompare(b))) {
      const why = t.reasons.size > 0 ? ` (skipped: ${[...t.reasons].join('; ')})` : '';
      lines.push(`  ${tier}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${why}`);
    }
    if (tiers.size === 0) lines.push('  (no tiered tests ran)');
    // Errors outside any test (an unhandled rejection, a failing setup) fail the run too.
    const failed = total.failed + brokenSuites + unhandledErrors.length;
    lines.push(`tests: ${total.passed} passed, ${failed} failed, ${total.skipped} skipped`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
