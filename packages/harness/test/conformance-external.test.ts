/**
 * The official MCP conformance suite against someone else's server: `bastion test --suite
 * conformance --server-url URL [--baseline FILE]` (BASTION_CONFORMANCE_URL, BASTION_CONFORMANCE_BASELINE).
 * The baseline is the suite's own format (reasons welcome, not required). Unset, there is nothing
 * to test here: our own servers are in conformance-servers.test.ts.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVE_SCENARIOS, type Baseline, judge, parseBaseline } from '../src/conformance/baseline.js';
import { CONFORMANCE_VERSION, type ConformanceRun, runConformance } from '../src/conformance/runner.js';
import { CONTRACT_ENV } from '../src/suites/env.js';

const url = process.env[CONTRACT_ENV.conformanceUrl] || undefined;
const baselinePath = process.env[CONTRACT_ENV.conformanceBaseline] || undefined;

const title = `MCP conformance ${CONFORMANCE_VERSION}: ${CONTRACT_ENV.conformanceUrl}`;

if (url === undefined) {
  describe.skip(`${title} (skipped: ${CONTRACT_ENV.conformanceUrl} is not set)`, () => {
    it('runs the conformance suite against the given server', () => undefined);
  });
} else {
  const baseline: Baseline | undefined =
    baselinePath === undefined
      ? undefined
      : parseBaseline(readFileSync(baselinePath, 'utf8'), baselinePath, false);
  const expected = new Map(baseline?.entries.map((e) => [e.scenario, e.reason]) ?? []);

  describe(title, () => {
    let run: ConformanceRun | undefined;
    const theRun = () => {
      if (run === undefined) throw new Error('the conformance run did not happen');
      return run;
    };
    beforeAll(async () => {
      run = await runConformance({
        url,
        ...(baselinePath === undefined ? {} : { baseline: baselinePath }),
        timeoutMs: 150_000,
      });
    }, 180_000);

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

    for (const scenario of ACTIVE_SCENARIOS) {
      const reason = expected.get(scenario);
      const name =
        reason === undefined
          ? `${scenario} passes`
          : `${scenario} fails as expected${reason === '' ? '' : `: ${reason}`}`;
      it(name, () => {
        const result = theRun().scenarios.find((s) => s.scenario === scenario);
        expect(result, `${scenario} did not run`).toBeDefined();
        if (reason === undefined) expect(result?.ok, result?.firstError).toBe(true);
        else expect(result?.ok, 'passes now: remove it from the baseline').toBe(false);
      });
    }
  });
}
