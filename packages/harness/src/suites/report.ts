/**
 * The JSON report of a `bastion test` run: every test with its tier and the requirement ids it
 * cites, and every requirement of the chosen suites with pass/fail/skip per tier. Built from plain
 * records so it does not depend on how the tests were run.
 */
import { REQUIREMENTS, type Requirement } from '../requirements/index.js';

export type Outcome = 'pass' | 'fail' | 'skip';

export interface TestRecord {
  /** Relative to the harness package, e.g. `test/mqtt-tools.test.ts`. */
  file: string;
  /** Suite names and test name joined by ` > `. */
  name: string;
  /** The real-service tier the test ran in (`[tier:NAME]`), or null for untiered tests. */
  tier: string | null;
  requirements: string[];
  outcome: Outcome;
  durationMs: number;
  /** First lines of the first error, for a failed test. */
  error?: string;
  /** Why a tier was skipped (`(skipped: why)`), when given. */
  skipReason?: string;
}

export interface TierTally {
  passed: number;
  failed: number;
  skipped: number;
  skipReasons: string[];
}

export interface RequirementRecord extends Requirement {
  /** fail if any citing test failed, pass if any passed, skip if all were skipped, not-run if none cites it. */
  outcome: Outcome | 'not-run';
  /** Per tier (`untiered` for tests outside the tier framework). */
  tiers: Record<string, Outcome>;
}

export interface RunReport {
  tool: 'bastion test';
  reportVersion: 1;
  suites: string[];
  startedAt: string;
  durationMs: number;
  /** What was tested: our own environment, or the URLs given (never tokens). */
  target: Record<string, string>;
  totals: { passed: number; failed: number; skipped: number; errors: number };
  tiers: Record<string, TierTally>;
  requirements: RequirementRecord[];
  tests: TestRecord[];
  /** Errors outside any test: a file that failed to load, a hook that threw, an unhandled rejection. */
  errors: string[];
  exitCode: number;
}

const ID = '[a-z0-9-]+(?:\\.[a-z0-9-]+)+';
const CITATION = new RegExp(`\\[(${ID}(?:, ${ID})*)\\]`, 'g');
const known = new Map(REQUIREMENTS.map((r) => [r.id, r]));

/** The requirement ids a test name (suites included) cites through `verifies()`. */
export function citedRequirements(fullName: string): string[] {
  const ids = new Set<string>();
  for (const match of fullName.matchAll(CITATION)) {
    for (const id of (match[1] ?? '').split(', ')) if (known.has(id)) ids.add(id);
  }
  return [...ids];
}

const UNTIERED = 'untiered';

function worst(a: Outcome | undefined, b: Outcome): Outcome {
  if (a === 'fail' || b === 'fail') return 'fail';
  if (a === 'pass' || b === 'pass') return 'pass';
  return 'skip';
}

export interface BuildReportInput {
  suites: string[];
  requirementPrefixes: string[];
  startedAt: Date;
  durationMs: number;
  target: Record<string, string>;
  tests: TestRecord[];
  errors: string[];
}

export function buildReport(input: BuildReportInput): RunReport {
  const totals = { passed: 0, failed: 0, skipped: 0, errors: input.errors.length };
  const tiers: Record<string, TierTally> = {};
  const byRequirement = new Map<string, Record<string, Outcome>>();
  for (const test of input.tests) {
    if (test.outcome === 'pass') totals.passed++;
    else if (test.outcome === 'fail') totals.failed++;
    else totals.skipped++;
    if (test.tier !== null) {
      const tally = tiers[test.tier] ?? { passed: 0, failed: 0, skipped: 0, skipReasons: [] };
      tiers[test.tier] = tally;
      if (test.outcome === 'pass') tally.passed++;
      else if (test.outcome === 'fail') tally.failed++;
      else tally.skipped++;
      if (test.skipReason !== undefined && !tally.skipReasons.includes(test.skipReason)) {
        tally.skipReasons.push(test.skipReason);
      }
    }
    for (const id of test.requirements) {
      const perTier = byRequirement.get(id) ?? {};
      byRequirement.set(id, perTier);
      const key = test.tier ?? UNTIERED;
      perTier[key] = worst(perTier[key], test.outcome);
    }
  }
  const inScope = REQUIREMENTS.filter(
    (r) => byRequirement.has(r.id) || input.requirementPrefixes.some((p) => r.id.startsWith(p)),
  );
  const requirements: RequirementRecord[] = inScope.map((r) => {
    const perTier = byRequirement.get(r.id);
    if (perTier === undefined) return { ...r, outcome: 'not-run', tiers: {} };
    let outcome: Outcome | undefined;
    for (const o of Object.values(perTier)) outcome = worst(outcome, o);
    return { ...r, outcome: outcome ?? 'skip', tiers: perTier };
  });
  const exitCode = totals.failed > 0 || totals.errors > 0 ? 1 : 0;
  return {
    tool: 'bastion test',
    reportVersion: 1,
    suites: input.suites,
    startedAt: input.startedAt.toISOString(),
    durationMs: input.durationMs,
    target: input.target,
    totals,
    tiers,
    requirements,
    tests: input.tests,
    errors: input.errors,
    exitCode,
  };
}

/** The closing summary for people: totals, tiers, requirements, and each failure with its reason. */
export function formatSummary(report: RunReport): string {
  const lines: string[] = [''];
  const failures = report.tests.filter((t) => t.outcome === 'fail');
  if (failures.length > 0 || report.errors.length > 0) {
    lines.push('Failures:');
    for (const t of failures) {
      lines.push(`  ✗ ${t.file} > ${t.name}`);
      for (const l of (t.error ?? '').split('\n').slice(0, 6)) lines.push(`      ${l}`);
    }
    for (const e of report.errors) {
      for (const [i, l] of e.split('\n').slice(0, 6).entries())
        lines.push(`${i === 0 ? '  ! ' : '      '}${l}`);
    }
    lines.push('');
  }
  const tierNames = Object.keys(report.tiers).sort();
  if (tierNames.length > 0) {
    lines.push('Tiers:');
    for (const name of tierNames) {
      const t = report.tiers[name] as TierTally;
      const why = t.skipReasons.length > 0 ? ` (skipped: ${t.skipReasons.join('; ')})` : '';
      lines.push(`  ${name}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${why}`);
    }
  }
  const count = (o: RequirementRecord['outcome']) =>
    report.requirements.filter((r) => r.outcome === o).length;
  lines.push(
    `Requirements: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} only skipped, ${count('not-run')} not run here`,
  );
  const failedIds = report.requirements.filter((r) => r.outcome === 'fail').map((r) => r.id);
  if (failedIds.length > 0) lines.push(`  failed: ${failedIds.join(', ')}`);
  const { passed, failed, skipped, errors } = report.totals;
  const errorText = errors > 0 ? `, ${errors} errors outside tests` : '';
  lines.push(
    `Tests: ${passed} passed, ${failed} failed, ${skipped} skipped${errorText} (${(report.durationMs / 1000).toFixed(1)} s)`,
  );
  lines.push(report.exitCode === 0 ? 'Result: PASS' : 'Result: FAIL');
  return `${lines.join('\n')}\n`;
}
