/**
 * The official MCP conformance suite, for tests in this package (and a gateway-vs-direct
 * comparison): run a requirement set against a URL, judge the run against a baseline, count it.
 *
 *   const env = await startConformanceEnvironment();          // fixture, bastion-mqtt, bastion-ssh
 *   const direct = await runConformance({ url: env.urls.fixture, set: '2026-07-28' });
 *   const proxied = await runConformance({ url: gatewayUrl, set: '2026-07-28' });
 *   verdictDifferences(direct, proxied)  // [] for a transparent proxy
 *   judge(direct, loadBaseline('fixture', '2026-07-28'))  // unexpected / stale / unknown entries
 *   tally(direct)                        // { passed: 37, total: 37 }
 *
 * Sets and the CLI release running each: sets.ts. Baseline format and rules: baseline.ts.
 */
export {
  type Baseline,
  type BaselineEntry,
  baselineFile,
  entryName,
  type Judgement,
  judge,
  loadBaseline,
  parseBaseline,
} from './baseline.js';
export { createConformanceFixtureServer, FixtureState, startConformanceFixture } from './fixture-server.js';
export {
  type ConformanceCheck,
  type ConformanceRun,
  type FailedCheck,
  type RunConformanceOptions,
  runConformance,
  type ScenarioResult,
  tally,
  verdictDifferences,
} from './runner.js';
export { conformanceCli, REQUIREMENT_SETS, type RequirementSet, requiredScenarios } from './sets.js';
export {
  CONFORMANCE_TARGET_NAMES,
  type ConformanceEnvironment,
  type ConformanceTargetName,
  startConformanceEnvironment,
} from './targets.js';
