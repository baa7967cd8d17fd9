/**
 * The official MCP conformance suite against someone else's server: `bastion test --suite
 * conformance --server-url URL [--set 2025-11-25|2026-07-28 --baseline FILE]`
 * (BASTION_CONFORMANCE_URL, BASTION_CONFORMANCE_SET, BASTION_CONFORMANCE_BASELINE). Without --set both
 * requirement sets run; a baseline belongs to one set, so it comes with --set. The baseline is the
 * suite's own format (reasons welcome, not required). Unset, there is nothing to test here: our own
 * servers are in conformance-servers.test.ts.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Baseline,
  entryName,
  expectationTitle,
  judge,
  parseBaseline,
} from '../src/conformance/baseline.js';
import {
  type ConformanceRun,
  REQUIREMENT_SETS,
  type RequirementSet,
  runConformance,
} from '../src/conformance/runner.js';
import { conformanceCli, requiredScenarios } from '../src/conformance/sets.js';
import { CONTRACT_ENV } from '../src/suites/env.js';

const url = process.env[CONTRACT_ENV.conformanceUrl] || undefined;
const baselinePath = process.env[CONTRACT_ENV.conformanceBaseline] || undefined;
const onlySet = process.env[CONTRACT_ENV.conformanceSet] || undefined;

if (url === undefined) {
  describe.skip(`MCP conformance: ${CONTRACT_ENV.conformanceUrl} (skipped: ${CONTRACT_ENV.conformanceUrl} is not set)`, () => {
    it('runs the conformance suite against the given server', () => undefined);
  });
} else {
  if (onlySet !== undefined && !(REQUIREMENT_SETS as readonly string[]).includes(onlySet))
    throw new Error(
      `${CONTRACT_ENV.conformanceSet}: '${onlySet}' is not one of ${REQUIREMENT_SETS.join(', ')}`,
    );
  if (baselinePath !== undefined && onlySet === undefined)
    throw new Error(`a baseline belongs to one requirement set: set ${CONTRACT_ENV.conformanceSet} too`);
  const sets = onlySet === undefined ? [...REQUIREMENT_SETS] : [onlySet as RequirementSet];

  for (const set of sets) {
    const baseline: Baseline | undefined =
      baselinePath === undefined
        ? undefined
        : parseBaseline(readFileSync(baselinePath, 'utf8'), baselinePath, {
            requireReasons: false,
            perCheck: conformanceCli(set).perCheckBaseline,
          });
    const scenarios = await requiredScenarios(set);

    describe(`MCP conformance ${set} (${conformanceCli(set).package}): ${url}`, () => {
      let run: ConformanceRun | undefined;
      const theRun = () => {
        if (run === undefined) throw new Error('the conformance run did not happen');
        return run;
      };
      beforeAll(async () => {
        run = await runConformance({
          url,
          set,
          ...(baselinePath === undefined ? {} : { baseline: baselinePath }),
        });
      }, 240_000);

      it(
        baseline === undefined
          ? 'passes every scenario (no baseline given)'
          : 'fails only what the baseline expects',
        () => {
          const j = judge(theRun(), baseline);
          expect({ unexpectedFailures: j.unexpectedFailures, staleEntries: j.staleEntries }).toEqual({
            unexpectedFailures: [],
            staleEntries: [],
          });
        },
      );

      for (const scenario of scenarios) {
        const entries = baseline?.entries.filter((e) => e.scenario === scenario) ?? [];
        it(expectationTitle(scenario, baseline), () => {
          const result = theRun().scenarios.find((s) => s.scenario === scenario);
          expect(result, `${scenario} did not run`).toBeDefined();
          if (entries.length === 0) expect(result?.failures, result?.firstError).toEqual([]);
          else if (entries.some((e) => e.check === undefined))
            expect(result?.ok, 'passes now: remove it from the baseline').toBe(false);
          else
            expect(result?.failures.map((f) => `${scenario}:${f.id}`).sort()).toEqual(
              entries.map(entryName).sort(),
            );
        });
      }
    });
  }
}
