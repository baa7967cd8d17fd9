/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.13, its CLI as a child
 * process) against bastion-mqtt, bastion-ssh, the conformance fixture server, and bastion-gateway
 * (allow-all) in front of each. Each target has a checked-in baseline of expected failures with the
 * reason for each; any other failure, or a baseline entry that passes, fails. The gateway is a
 * transparent proxy: in front of a server it passes exactly the scenarios the server passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVE_SCENARIOS, type Baseline, judge, loadBaseline } from '../src/conformance/baseline.js';
import { CONFORMANCE_VERSION, type ConformanceRun, runConformance } from '../src/conformance/runner.js';
import {
  CONFORMANCE_TARGETS,
  type ConformanceEnvironment,
  startConformanceEnvironment,
} from '../src/conformance/targets.js';

let env: ConformanceEnvironment | undefined;
const runs = new Map<string, ConformanceRun>();

beforeAll(async () => {
  env = await startConformanceEnvironment();
}, 90_000);
afterAll(async () => {
  await env?.stop();
});

for (const target of CONFORMANCE_TARGETS) {
  const baseline: Baseline = loadBaseline(target.baseline);
  const expected = new Map(baseline.entries.map((e) => [e.scenario, e.reason]));

  describe(`MCP conformance ${CONFORMANCE_VERSION}: ${target.name}`, () => {
    let run: ConformanceRun | undefined;
    const theRun = () => {
      if (run === undefined) throw new Error('the conformance run did not happen');
      return run;
    };
    beforeAll(async () => {
      if (env === undefined) throw new Error('the servers did not start');
      run = await runConformance({ url: target.url(env), baseline: baseline.path, timeoutMs: 150_000 });
      runs.set(target.name, run);
    }, 180_000);

    it(`fails only what conformance/${target.baseline} expects`, () => {
      const r = theRun();
      const j = judge(r, baseline);
      expect({
        unexpectedFailures: j.unexpectedFailures.map(
          (s) => `${s}: ${r.scenarios.find((x) => x.scenario === s)?.firstError}`,
        ),
        staleEntries: j.staleEntries,
        unknownEntries: j.unknownEntries,
      }).toEqual({ unexpectedFailures: [], staleEntries: [], unknownEntries: [] });
      // The suite's own verdict against the same baseline agrees.
      expect({ exitCode: r.exitCode, unexpected: r.unexpectedFailures, stale: r.staleEntries }).toEqual({
        exitCode: 0,
        unexpected: [],
        stale: [],
      });
    });

    it('ran every scenario of the active suite', () => {
      expect(
        theRun()
          .scenarios.map((s) => s.scenario)
          .sort(),
      ).toEqual([...ACTIVE_SCENARIOS].sort());
    });

    for (const scenario of ACTIVE_SCENARIOS) {
      const reason = expected.get(scenario);
      it(reason === undefined ? `${scenario} passes` : `${scenario} fails as expected: ${reason}`, () => {
        const result = theRun().scenarios.find((s) => s.scenario === scenario);
        expect(result, `${scenario} did not run`).toBeDefined();
        if (reason === undefined) expect(result?.ok, result?.firstError).toBe(true);
        else expect(result?.ok, 'passes now: remove it from the baseline').toBe(false);
      });
    }

    const upstream = target.proxyOf;
    if (upstream !== undefined) {
      it(`passes exactly the scenarios ${upstream} passes on its own (a transparent proxy)`, () => {
        const direct = runs.get(upstream);
        if (direct === undefined) throw new Error(`${upstream} was not run`);
        const verdicts = (r: ConformanceRun) =>
          Object.fromEntries(r.scenarios.map((s) => [s.scenario, s.ok]));
        expect(verdicts(theRun())).toEqual(verdicts(direct));
      });
    }
  });
}
