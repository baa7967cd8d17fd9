/**
 * The official MCP conformance suite against our targets, in both requirement sets: 2025-11-25
 * (@modelcontextprotocol/conformance 0.1.16) and 2026-07-28 (0.2.0-alpha.12), each CLI a child
 * process. Targets: the harness's conformance fixture (which passes both sets), and bastion-mqtt and
 * bastion-ssh from their bins. Each target has a checked-in baseline per set with the reason for
 * every entry; any other failure, an entry that passes (stale), or one naming nothing that ran,
 * fails. Runs on the process tier: the servers under test and the CLI are real processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryName, expectationTitle, judge, loadBaseline } from '../src/conformance/baseline.js';
import {
  type ConformanceRun,
  type RequirementSet,
  runConformance,
  tally,
} from '../src/conformance/runner.js';
import { conformanceCli, requiredScenarios } from '../src/conformance/sets.js';
import {
  CONFORMANCE_TARGET_NAMES,
  type ConformanceEnvironment,
  type ConformanceTargetName,
  startConformanceEnvironment,
} from '../src/conformance/targets.js';
import { verifies } from '../src/requirements/index.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';

/** What each target's run verifies, per set (written out so the coverage test can read each era). */
const CITES: Record<RequirementSet, Record<ConformanceTargetName | 'complete', string>> = {
  '2025-11-25': {
    fixture: verifies('conformance.fixture.set', { era: '2025-11-25' }),
    'bastion-mqtt': verifies('conformance.mqtt.set', { era: '2025-11-25' }),
    'bastion-ssh': verifies('conformance.ssh.set', { era: '2025-11-25' }),
    complete: verifies('conformance.run.complete', { era: '2025-11-25' }),
  },
  '2026-07-28': {
    fixture: verifies('conformance.fixture.set', { era: '2026-07-28' }),
    'bastion-mqtt': verifies('conformance.mqtt.set', { era: '2026-07-28' }),
    'bastion-ssh': verifies('conformance.ssh.set', { era: '2026-07-28' }),
    complete: verifies('conformance.run.complete', { era: '2026-07-28' }),
  },
};

const SETS: RequirementSet[] = ['2025-11-25', '2026-07-28'];
const required: Record<RequirementSet, string[]> = {
  '2025-11-25': await requiredScenarios('2025-11-25'),
  '2026-07-28': await requiredScenarios('2026-07-28'),
};

const provider: TargetProvider<ConformanceEnvironment> = {
  kind: 'conformance targets (bastion-mqtt, bastion-ssh, the fixture)',
  tier: 'process',
  availability: () => ({ available: true }),
  start: startConformanceEnvironment,
};

const summary: string[] = [];

describeEachTier('MCP conformance', [provider], (ctx) => {
  afterAll(() => {
    // One line per set and target, for people reading the run (vitest shows a test file's stdout).
    if (summary.length > 0)
      process.stdout.write(`MCP conformance, passed/total per set and target:\n  ${summary.join('\n  ')}\n`);
  });

  for (const set of SETS) {
    const cli = conformanceCli(set);
    describe(`requirement set ${set} (${cli.package})`, () => {
      for (const target of CONFORMANCE_TARGET_NAMES) {
        const baseline = loadBaseline(target, set);
        const failing = new Set(baseline.entries.map((e) => e.scenario));
        const expectedPasses = required[set].filter((s) => !failing.has(s)).length;

        describe(target, () => {
          let run: ConformanceRun | undefined;
          const theRun = () => {
            if (run === undefined) throw new Error('the conformance run did not happen');
            return run;
          };
          beforeAll(async () => {
            run = await runConformance({ url: ctx.target().urls[target], set, baseline: baseline.path });
            const { passed, total } = tally(run);
            const unscored = run.scenarios.filter((s) => !s.scored);
            const extra =
              unscored.length === 0
                ? ''
                : `; not scored: ${unscored.filter((s) => s.ok).length}/${unscored.length}`;
            summary.push(
              `${set} ${target}: ${passed}/${total} (${(run.durationMs / 1000).toFixed(1)} s${extra})`,
            );
          }, 240_000);

          it(`${CITES[set][target]}: fails only what conformance/${target}.${set}.yml lists`, () => {
            const r = theRun();
            const j = judge(r, baseline);
            const why = (name: string) =>
              r.scenarios
                .find((s) => s.scenario === name.split(':')[0])
                ?.failures.find((f) => !name.includes(':') || f.id === name.split(':')[1])?.message;
            expect({
              unexpectedFailures: j.unexpectedFailures.map((name) => `${name}: ${why(name)}`),
              staleEntries: j.staleEntries,
              unknownEntries: j.unknownEntries,
            }).toEqual({ unexpectedFailures: [], staleEntries: [], unknownEntries: [] });
            // The suite's own verdict against the same baseline agrees.
            expect({ exitCode: r.exitCode, unexpected: r.unexpectedFailures, stale: r.staleEntries }).toEqual(
              {
                exitCode: 0,
                unexpected: [],
                stale: [],
              },
            );
          });

          it(`scores ${expectedPasses}/${required[set].length} of the set's scenarios`, () => {
            expect(tally(theRun())).toEqual({ passed: expectedPasses, total: required[set].length });
          });

          it(`${CITES[set].complete} (${target})`, () => {
            const scored = theRun()
              .scenarios.filter((s) => s.scored)
              .map((s) => s.scenario);
            expect(scored.sort()).toEqual([...required[set]].sort());
          });

          for (const scenario of required[set]) {
            it(expectationTitle(scenario, baseline), () => {
              const result = theRun().scenarios.find((s) => s.scenario === scenario);
              expect(result, `${scenario} did not run`).toBeDefined();
              const expected = baseline.entries.filter((e) => e.scenario === scenario);
              if (expected.length === 0) expect(result?.failures, result?.firstError).toEqual([]);
              else if (expected.some((e) => e.check === undefined))
                expect(result?.ok, 'passes now: remove it from the baseline').toBe(false);
              else
                expect(result?.failures.map((f) => `${scenario}:${f.id}`).sort()).toEqual(
                  expected.map(entryName).sort(),
                );
            });
          }
        });
      }
    });
  }
});
