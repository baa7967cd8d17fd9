/** What one benchmark run measures, and the two presets (`--quick` and the full default). */

/** (a) direct, (b) gateway allow-all, (c) gateway realistic policy, (d) peer proxy, (e) a plain proxy hop. */
export type PathId = 'direct' | 'gateway-allow' | 'gateway-policy' | 'peer' | 'proxy-hop';

/** Report order, a to e. */
export const PATH_IDS: readonly PathId[] = ['direct', 'gateway-allow', 'gateway-policy', 'peer', 'proxy-hop'];

/**
 * The two protocol eras an agent may speak: 2025-11-25 opens a session (`initialize`, then
 * `Mcp-Session-Id` on every request); 2026-07-28 is stateless (every request carries its own
 * `_meta` with the protocol version, client info and capabilities).
 */
export type Era = '2025-11-25' | '2026-07-28';
export const ERAS: readonly Era[] = ['2025-11-25', '2026-07-28'];

export interface BenchOptions {
  mode: 'quick' | 'full' | 'custom';
  paths: PathId[];
  eras: Era[];
  /** Unrecorded calls on a session before it is measured. */
  warmupCalls: number;
  /** Recorded sequential calls per path and era. */
  sequentialCalls: number;
  /** Time cap of each warm-up and each sequential run, so that a slow path still ends in time. */
  phaseMaxMs: number;
  /** Concurrent sessions (2025) or agents (2026) per throughput level. */
  concurrency: number[];
  /** Each throughput level runs this long... */
  levelDurationMs: number;
  /** ...or until this many calls, whichever comes first. */
  levelMaxCalls: number;
  /**
   * Idle 2025-era sessions held open at the end of the memory ladder (0 skips it); the ladder stops
   * earlier at the first failure, at `idleMaxMs`, or when the machine runs short of memory.
   */
  idleSessions: number;
  /** Time cap of one path's idle-session ladder. */
  idleMaxMs: number;
  /** Distinct 2026-era agents (each its own token) that make one call each, for memory per agent (0 skips it). */
  statelessAgents: number;
  /**
   * A level whose load generator used at least this much of one core is marked invalid: the
   * generator, not the path, may have been the limit.
   */
  generatorLimitPercent: number;
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
  eras: [...ERAS],
  warmupCalls: 1000,
  sequentialCalls: 5000,
  phaseMaxMs: 60_000,
  concurrency: [1, 8, 32, 128],
  levelDurationMs: 5000,
  levelMaxCalls: 200_000,
  // The target: 50,000 idle sessions in one process at <= 20 KiB each.
  idleSessions: 50_000,
  idleMaxMs: 600_000,
  // Enough that what each agent might keep shows above the slack of the heap and the allocator.
  statelessAgents: 10_000,
  generatorLimitPercent: 90,
  engineTools: 1000,
  engineGrants: 10_000,
  engineDecisions: 1_000_000,
  engineMaxMs: 15_000,
};

/** About a minute on 2 idle cores: fewer calls, shorter levels, no 128-session level, a one-rung ladder. */
export const QUICK_OPTIONS: BenchOptions = {
  mode: 'quick',
  paths: [...PATH_IDS],
  eras: [...ERAS],
  warmupCalls: 50,
  sequentialCalls: 300,
  phaseMaxMs: 1500,
  concurrency: [1, 8, 32],
  levelDurationMs: 500,
  levelMaxCalls: 50_000,
  idleSessions: 100,
  idleMaxMs: 20_000,
  statelessAgents: 20,
  generatorLimitPercent: 90,
  engineTools: 1000,
  engineGrants: 10_000,
  engineDecisions: 100_000,
  engineMaxMs: 1000,
};

/** The rungs of the idle-session ladder: RSS and CPU are read at each, up to `max`. */
export function idleLadder(max: number): number[] {
  if (max <= 0) return [];
  const rungs = [100, 1000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000].filter((n) => n < max);
  return [...rungs, max];
}
