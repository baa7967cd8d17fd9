/**
 * Reading the targets of issue 10 off a run's results: figures made up here, so that each rule is
 * seen to pass, fail, or say "not measured" (a real run's figures depend on the machine).
 */
import { describe, expect, it } from 'vitest';
import type { LatencySummary } from '../src/bench/histogram.js';
import { describeMachine } from '../src/bench/machine.js';
import type { Era, PathId } from '../src/bench/options.js';
import type { BenchResults, EraResult, LevelResult, PathResult } from '../src/bench/results.js';
import { evaluateTargets, type TargetCheck } from '../src/bench/targets.js';
import { TINY } from './bench-fixtures.js';

function latency(p50Ms: number, p99Ms: number): LatencySummary {
  return {
    count: 1000,
    minMs: p50Ms / 2,
    meanMs: p50Ms,
    p50Ms,
    p90Ms: p50Ms,
    p99Ms,
    p999Ms: p99Ms,
    maxMs: p99Ms,
  };
}

function level(concurrency: number, callsPerSecond: number, generatorLimited = false): LevelResult {
  return {
    concurrency,
    calls: callsPerSecond,
    errors: 0,
    elapsedMs: 1000,
    callsPerSecond,
    latency: latency(1, 2),
    generatorLimited,
  };
}

function era(
  name: Era,
  p50: number,
  p99: number,
  levels: LevelResult[],
  extra: Partial<EraResult> = {},
): EraResult {
  return {
    era: name,
    status: 'ok',
    sequential: {
      latency: latency(p50, p99),
      distribution: [],
      hdrBase64: '',
      calls: 1000,
      errors: 0,
      elapsedMs: 1000,
      cpuMsPerCall: {},
    },
    levels,
    ...extra,
  };
}

function path(id: PathId, letter: string, eras: EraResult[]): PathResult {
  return { id, letter, label: id, description: id, hopProcesses: [], status: 'ok', eras };
}

function results(paths: PathResult[], idleSessions = 50_000): BenchResults {
  return {
    schema: 'bastion-bench/2',
    startedAt: '2026-12-06T00:00:00.000Z',
    finishedAt: '2026-12-06T00:01:00.000Z',
    durationMs: 60_000,
    options: { ...TINY, idleSessions, eras: ['2025-11-25', '2026-07-28'] },
    machine: describeMachine(),
    fdLimit: { requested: 1, applied: 1, how: '' },
    generator: { description: '' },
    peer: { name: 'mcp-proxy', version: '0', mode: '' },
    paths,
    profiles: [],
    notes: [],
  };
}

const agents = (bytesPerAgent: number) => ({
  agents: 10_000,
  errors: 0,
  hopRssBeforeBytes: 0,
  hopRssAfterBytes: bytesPerAgent * 10_000,
  hopBytesPerAgent: bytesPerAgent,
});

const find = (checks: TargetCheck[], era: Era, start: string) =>
  checks.find((c) => c.path === 'gateway-allow' && c.era === era && c.target.startsWith(start));

describe('the targets of issue 10', () => {
  const direct = path('direct', 'a', [
    era('2025-11-25', 1.0, 3.0, [level(32, 5000)]),
    era('2026-07-28', 1.0, 3.0, [level(32, 5000)], { agents: agents(18_000) }),
  ]);
  const hop = path('proxy-hop', 'e', [
    era('2025-11-25', 1.25, 3.5, [level(32, 4800)]),
    era('2026-07-28', 1.25, 3.5, [level(32, 4800)], { agents: agents(800) }),
  ]);

  it('passes a gateway that stays within every target', () => {
    const idle = {
      target: 50_000,
      reached: 50_000,
      hopRssBeforeBytes: 0,
      rungs: [{ sessions: 50_000, hopRssBytes: 0, hopBytesPerSession: 15 * 1024, elapsedMs: 1 }],
      openCpuMs: { hop: 0.2 },
    };
    const gateway = path('gateway-allow', 'b', [
      era('2025-11-25', 1.28, 4.0, [level(8, 9000), level(32, 4700)], { idle }),
      era('2026-07-28', 1.28, 4.0, [level(32, 8100)], { agents: agents(1500) }),
    ]);
    const checks = evaluateTargets(results([direct, gateway, hop]));
    const mine = checks.filter((c) => c.path === 'gateway-allow');
    expect(mine.filter((c) => c.met !== true)).toEqual([]);
    // Seven targets in the 2025 era, six in the 2026 era (no idle sessions there, memory per agent instead).
    expect(mine).toHaveLength(13);
  });

  it('fails each target a gateway misses, and says by how much', () => {
    const idle = {
      target: 50_000,
      reached: 9_200,
      stoppedBy: 'a failure at 9200 sessions: EMFILE',
      hopRssBeforeBytes: 0,
      rungs: [{ sessions: 9_200, hopRssBytes: 0, hopBytesPerSession: 85 * 1024, elapsedMs: 1 }],
      openCpuMs: { hop: 2.8 },
    };
    const gateway = path('gateway-allow', 'b', [
      era('2025-11-25', 1.6, 5.0, [level(8, 2500), level(32, 2400)], { idle }),
      era('2026-07-28', 1.6, 5.0, [level(32, 2400)], { agents: agents(90 * 1024) }),
    ]);
    const checks = evaluateTargets(results([direct, gateway, hop]));
    expect(find(checks, '2025-11-25', 'added p50 over direct')).toMatchObject({
      measured: '+0.60 ms',
      met: false,
    });
    expect(find(checks, '2025-11-25', 'added p50 within')).toMatchObject({ met: false });
    expect(find(checks, '2025-11-25', 'added p99')).toMatchObject({ measured: '+2.00 ms', met: false });
    expect(find(checks, '2025-11-25', '≥ 8,000')).toMatchObject({
      measured: '2500 calls/s (best level)',
      met: false,
    });
    expect(find(checks, '2025-11-25', '≥ 90 %')).toMatchObject({ measured: '48 %', met: false });
    expect(find(checks, '2025-11-25', '50000 idle')).toMatchObject({ met: false });
    expect(find(checks, '2025-11-25', '50000 idle')?.measured).toContain('EMFILE');
    expect(find(checks, '2025-11-25', 'opening a session')).toMatchObject({
      measured: '2.800 ms',
      met: false,
    });
    expect(find(checks, '2026-07-28', 'no memory per 2026-era agent')).toMatchObject({ met: false });
  });

  it('counts no level where the load generator was the limit, and no figure it did not measure', () => {
    const gateway = path('gateway-allow', 'b', [
      era('2025-11-25', 1.2, 3.2, [level(32, 9000, true)]),
      { era: '2026-07-28', status: 'skipped', reason: 'the target does not speak 2026-07-28', levels: [] },
    ]);
    const checks = evaluateTargets(results([direct, gateway], 100));
    expect(find(checks, '2025-11-25', '≥ 8,000')).toMatchObject({
      measured: 'no valid level',
      met: undefined,
    });
    expect(find(checks, '2025-11-25', '≥ 90 %')?.met).toBeUndefined();
    expect(find(checks, '2025-11-25', 'added p50 within')).toMatchObject({
      measured: 'no (e) in this run',
      met: undefined,
    });
    expect(find(checks, '2025-11-25', '50000 idle')).toMatchObject({
      measured: 'not measured',
      met: undefined,
    });
    expect(checks.filter((c) => c.path === 'gateway-allow' && c.era === '2026-07-28')).toEqual([
      {
        path: 'gateway-allow',
        era: '2026-07-28',
        target: 'all targets',
        measured: 'the target does not speak 2026-07-28',
        met: undefined,
      },
    ]);
  });
});
