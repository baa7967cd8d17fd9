/** The shape of one run's results: what the JSON file holds and the reports are drawn from. */
import type { LatencySummary, PercentilePoint } from './histogram.js';
import type { MachineDescription } from './machine.js';
import type { BenchOptions, Era, PathId } from './options.js';
import type { ProcessUsage } from './process-stats.js';
import type { ProfileSummary } from './profile.js';

/** CPU time per call of each process involved, in ms. */
export interface CpuPerCall {
  /** The path's hop process(es): gateway, proxy; for (a) direct, the echo upstream itself. */
  hop?: number;
  /** The echo upstream behind a hop. */
  upstream?: number;
  /** The load generator. */
  generator?: number;
}

export interface SequentialResult {
  latency: LatencySummary;
  distribution: PercentilePoint[];
  /** The full HDR histogram, compressed base64 (HdrHistogram's interchange format). */
  hdrBase64: string;
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  cpuMsPerCall: CpuPerCall;
}

export interface LevelResult {
  concurrency: number;
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  callsPerSecond: number;
  latency: LatencySummary;
  hop?: ProcessUsage;
  upstream?: ProcessUsage;
  generator?: ProcessUsage;
  /**
   * The load generator used at least `generatorLimitPercent` of a core: it may have been the limit,
   * so the level's calls/s says nothing about the path.
   */
  generatorLimited: boolean;
}

/** One rung of the idle-session ladder: everything read once this many sessions were open. */
export interface IdleRung {
  sessions: number;
  hopRssBytes: number;
  /** (RSS now - RSS before the first session) / sessions; RSS includes allocator slack. */
  hopBytesPerSession: number;
  upstreamRssBytes?: number;
  upstreamBytesPerSession?: number;
  /** CPU spent opening this rung's new sessions, per session. */
  hopCpuMsPerOpen?: number;
  upstreamCpuMsPerOpen?: number;
  generatorCpuMsPerOpen?: number;
  /** Time to open this rung's new sessions. */
  elapsedMs: number;
}

/** 2025-era sessions opened (initialize + initialized) and held idle, up to `target`. */
export interface IdleResult {
  target: number;
  reached: number;
  /** Why the ladder stopped before `target` (a failure, the time cap, the machine's memory). */
  stoppedBy?: string;
  hopRssBeforeBytes: number;
  upstreamRssBeforeBytes?: number;
  rungs: IdleRung[];
  /** CPU to open one session over the whole ladder, ms. */
  openCpuMs: CpuPerCall;
}

/** Distinct 2026-era agents (one token each), one call each: what the path keeps per agent. */
export interface AgentsResult {
  agents: number;
  errors: number;
  firstError?: string;
  hopRssBeforeBytes: number;
  hopRssAfterBytes: number;
  hopBytesPerAgent: number;
  upstreamBytesPerAgent?: number;
}

/** One path in one era. */
export interface EraResult {
  era: Era;
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed or was skipped (a target that does not speak the era is skipped). */
  reason?: string;
  sequential?: SequentialResult;
  levels: LevelResult[];
  idle?: IdleResult;
  agents?: AgentsResult;
}

export interface PathResult {
  id: PathId;
  /** a to e, as in the issue. */
  letter: string;
  label: string;
  description: string;
  /** The processes whose CPU and memory the `hop` figures are (the echo upstream for direct). */
  hopProcesses: string[];
  status: 'ok' | 'failed' | 'skipped';
  /** Why the path could not start. */
  reason?: string;
  details?: Record<string, string>;
  eras: EraResult[];
}

export interface EngineResult {
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  tools: number;
  grants: number;
  decisions: number;
  elapsedMs?: number;
  decisionsPerSecond?: number;
  /** Nanoseconds per decision (mean). */
  nsPerDecision?: number;
  /** The same decisions, each after the bearer-token lookup an HTTP request makes. */
  withAuthentication?: { decisions: number; decisionsPerSecond: number; nsPerDecision: number };
  /** How the decisions are chosen (which tools and grants, allowed vs denied). */
  workload?: string;
}

export interface BenchResults {
  schema: 'bastion-bench/2';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  options: BenchOptions;
  machine: MachineDescription;
  /** The open-file limit the processes under test ran with (fd-limit.ts). */
  fdLimit: { requested: number; applied: number; how: string };
  generator: { description: string };
  peer: { name: string; version: string; mode: string };
  paths: PathResult[];
  engine?: EngineResult;
  /** CPU profiles written (with `--profile`). */
  profiles: string[];
  /** Where each profiled process spent its CPU time. */
  profileSummaries?: ProfileSummary[];
  notes: string[];
}

/** The era result of a path, when the path ran that era. */
export function eraOf(path: PathResult | undefined, era: Era): EraResult | undefined {
  return path?.eras.find((e) => e.era === era);
}
