/**
 * Baselines say why each failure is expected, and a run is judged against them the way the suite's
 * CLI judges it, with each set's CLI: a failure the baseline does not list fails the run, and so does
 * an entry that passes (stale). Checked against bastion-mqtt, whose failures are known.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judge, loadBaseline, parseBaseline } from '../src/conformance/baseline.js';
import {
  type ConformanceRun,
  REQUIREMENT_SETS,
  runConformance,
  summarise,
} from '../src/conformance/runner.js';
import { CONFORMANCE_TARGET_NAMES } from '../src/conformance/targets.js';
import { verifies } from '../src/requirements/index.js';
import { type RunningService, startOwnMqttServer } from '../src/suites/own-targets.js';
import { describeEachTier, type TargetProvider } from '../src/testing/tiers.js';

describe('conformance baselines', () => {
  it('need a reason on every entry, and hold only a server list', () => {
    expect(() => parseBaseline('server:\n  - ping\n', 'b.yml')).toThrow("line 2: 'ping' says not why");
    expect(() => parseBaseline('client:\n  - initialize # no\n', 'b.yml')).toThrow("only a 'server:' list");
    expect(parseBaseline('# why\nserver:\n  - ping # the reason\n', 'b.yml').entries).toEqual([
      { scenario: 'ping', reason: 'the reason' },
    ]);
    // Someone else's baseline, in the suite's plain format, is read without reasons.
    expect(parseBaseline('server:\n  - ping\n', 'b.yml', { requireReasons: false }).entries).toEqual([
      { scenario: 'ping', reason: '' },
    ]);
  });

  it('name a whole scenario or one of its checks, never both, and never twice', () => {
    expect(parseBaseline('server:\n  - server-stateless:sep-2575-x # why\n', 'b.yml').entries).toEqual([
      { scenario: 'server-stateless', check: 'sep-2575-x', reason: 'why' },
    ]);
    expect(() => parseBaseline('server:\n  - caching # a\n  - caching:sep-2549-y # b\n', 'b.yml')).toThrow(
      "the whole scenario 'caching' is already expected to fail",
    );
    expect(() => parseBaseline('server:\n  - ping # a\n  - ping # b\n', 'b.yml')).toThrow(
      "'ping' is listed twice",
    );
    // 0.1.16, which runs the 2025-11-25 set, reads whole scenarios only.
    expect(() => parseBaseline('server:\n  - ping:ping # a\n', 'b.yml', { perCheck: false })).toThrow(
      'reads whole scenarios only',
    );
  });

  it(verifies('conformance.baseline.reasons'), () => {
    for (const set of REQUIREMENT_SETS) {
      for (const target of CONFORMANCE_TARGET_NAMES) {
        const baseline = loadBaseline(target, set);
        for (const entry of baseline.entries)
          expect(entry.reason.length, `${target}.${set}: ${entry.scenario}`).toBeGreaterThan(20);
      }
    }
  });

  it('judge a per-check entry by its check: the scenario may fail it, and only it', () => {
    const scenario = (checks: Record<string, string>) =>
      summarise(
        'server-stateless',
        Object.entries(checks).map(([id, status]) => ({ id, status, errorMessage: `${id} ${status}` })),
        true,
      );
    const run = (checks: Record<string, string>): ConformanceRun => ({
      url: 'http://127.0.0.1:1/mcp',
      set: '2026-07-28',
      cli: 'test',
      exitCode: 1,
      durationMs: 0,
      scenarios: [scenario(checks)],
      unexpectedFailures: [],
      staleEntries: [],
      output: '',
    });
    const baseline = parseBaseline('server:\n  - server-stateless:a # a is expected to fail\n', 'b.yml');
    expect(judge(run({ a: 'FAILURE', b: 'SUCCESS' }), baseline)).toEqual({
      unexpectedFailures: [],
      staleEntries: [],
      expectedFailures: ['server-stateless:a'],
      unknownEntries: [],
    });
    expect(judge(run({ a: 'FAILURE', b: 'WARNING' }), baseline).unexpectedFailures).toEqual([
      'server-stateless:b',
    ]);
    expect(judge(run({ a: 'SUCCESS', b: 'SUCCESS' }), baseline).staleEntries).toEqual(['server-stateless:a']);
    // A check the scenario never reported (renamed, say) is an entry that names nothing.
    expect(judge(run({ b: 'SUCCESS' }), baseline).unknownEntries).toEqual(['server-stateless:a']);
  });
});

const mqttBin: TargetProvider<RunningService> = {
  kind: 'bastion-mqtt (its bin)',
  tier: 'process',
  availability: () => ({ available: true }),
  start: () => startOwnMqttServer(),
};

/** Each set's CLI, run on one scenario against bastion-mqtt, with a baseline written for the case. */
describeEachTier('a conformance run judged against a baseline', [mqttBin], (ctx) => {
  let dir: string;
  const url = () => `${ctx.target().baseUrl}/mcp`;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bastion-baseline-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const withBaseline = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return { path, baseline: parseBaseline(text, path) };
  };

  const unexpected = async (set: (typeof REQUIREMENT_SETS)[number]) => {
    const { path, baseline } = await withBaseline(`empty-${set}.yml`, 'server: []\n');
    const run = await runConformance({ url: url(), set, baseline: path, scenario: 'tools-call-image' });
    expect(run.exitCode).toBe(1);
    expect(run.unexpectedFailures).toEqual(['tools-call-image']);
    expect(judge(run, baseline).unexpectedFailures).toEqual(['tools-call-image']);
    expect(run.scenarios).toMatchObject([{ scenario: 'tools-call-image', ok: false, scored: true }]);
    expect(run.scenarios[0]?.firstError).toMatch(/test_image_content not found/);
  };

  const stale = async (set: (typeof REQUIREMENT_SETS)[number]) => {
    const { path, baseline } = await withBaseline(
      `stale-${set}.yml`,
      'server:\n  - tools-list # wrongly expected to fail\n',
    );
    const run = await runConformance({ url: url(), set, baseline: path, scenario: 'tools-list' });
    expect(run.exitCode).toBe(1);
    expect(run.staleEntries).toEqual(['tools-list']);
    expect(judge(run, baseline).staleEntries).toEqual(['tools-list']);
  };

  it(
    verifies('conformance.baseline.unexpected', { era: '2025-11-25' }),
    () => unexpected('2025-11-25'),
    60_000,
  );
  it(
    verifies('conformance.baseline.unexpected', { era: '2026-07-28' }),
    () => unexpected('2026-07-28'),
    60_000,
  );
  it(verifies('conformance.baseline.stale', { era: '2025-11-25' }), () => stale('2025-11-25'), 60_000);
  it(verifies('conformance.baseline.stale', { era: '2026-07-28' }), () => stale('2026-07-28'), 60_000);

  it('fails a stale per-check entry in the 2026-07-28 set, as its CLI does', async () => {
    const { path, baseline } = await withBaseline(
      'stale-check.yml',
      'server:\n  - tools-list:wire-schema-valid # wrongly expected to fail\n',
    );
    const run = await runConformance({
      url: url(),
      set: '2026-07-28',
      baseline: path,
      scenario: 'tools-list',
    });
    expect(run.exitCode).toBe(1);
    expect(run.staleEntries).toEqual(['tools-list:wire-schema-valid']);
    expect(judge(run, baseline).staleEntries).toEqual(['tools-list:wire-schema-valid']);
  }, 60_000);
});
