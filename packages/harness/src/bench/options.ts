/** What one benchmark run measures, and the two presets (`--quick` and the full default). */

/** (a) direct, (b) gateway allow-all, (c) gateway realistic policy, (d) peer proxy, (e) bare HTTP floor. */
export type PathId = 'direct' | 'gateway-allow' | 'gateway-policy' | 'peer' | 'bare';

/** Report order, a to e. */
export const PATH_IDS: readonly PathId[] = ['direct', 'gateway-allow', 'gateway-policy', 'peer', 'bare'];

export interface BenchOptions {
  mode: 'quick' | 'full' | 'custom';
  paths: PathId[];
  /** Unrecorded calls on a session before it is measured. */
  warmupCalls: number;
  /** Recorded sequential calls per path. */
  sequentialCalls: number;
  /** Time cap of each warm-up and each sequential run, so that a slow path still ends in time. */
  phaseMaxMs: number;
  /** Concurrent sessions per throughput level. */
  concurrency: number[];
  /** Each throughput level runs this long... */
  levelDurationMs: number;
  /** ...or until this many calls, whichever comes first. */
  levelMaxCalls: number;
  /** Idle sessions opened to measure memory per session (0 skips it). */
  idleSessions: number;
  /** Policy engine benchmark: tools and grants in the generated policy, decisions timed (0 skips it). */
  engineTools: number;
  engineGrants: number;
  engineDecisions: number;
  /** Time cap of each of the engine benchmark's two timed loops. */
  engineMaxMs: number;
  /** Write a V8 CPU profile of each gateway process into this directory. */
  profileDir?: string;
}

export const FULL_OPTIONS: BenchOptions = {
  mode: 'full',
  paths: [...PATH_IDS],
  warmupCalls: 1000,
  sequentialCalls: 5000,
  phaseMaxMs: 60_000,
  concurrency: [1, 8, 32, 128],
  levelDurationMs: 5000,
  levelMaxCalls: 200_000,
  idleSessions: 1000,
  engineTools: 1000,
  engineGrants: 10_000,
  engineDecisions: 1_000_000,
  engineMaxMs: 15_000,
};

/** Under a minute on 2 cores: fewer calls, shorter levels, no 128-session level, fewer idle sessions. */
export const QUICK_OPTIONS: BenchOptions = {
  mode: 'quick',
  paths: [...PATH_IDS],
  warmupCalls: 100,
  sequentialCalls: 1000,
  phaseMaxMs: 2500,
  // 128 sessions take seconds to open through each hop on 2 busy cores: the full run measures them.
  concurrency: [1, 8, 32],
  levelDurationMs: 500,
  levelMaxCalls: 50_000,
  idleSessions: 20,
  engineTools: 1000,
  engineGrants: 10_000,
  engineDecisions: 100_000,
  engineMaxMs: 1000,
};
