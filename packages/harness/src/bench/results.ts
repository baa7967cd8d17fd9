/** The shape of one run's results: what the JSON file holds and the reports are drawn from. */
import type { LatencySummary, PercentilePoint } from './histogram.js';
import type { MachineDescription } from './machine.js';
import type { BenchOptions, PathId } from './options.js';
import type { ProcessUsage } from './process-stats.js';
import type { ProfileSummary } from './profile.js';

export interface SequentialResult {
  latency: LatencySummary;
  distribution: PercentilePoint[];
  /** The full HDR histogram, compressed base64 (HdrHistogram's interchange format). */
  hdrBase64: string;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** CPU time of the path's own hop process (gateway, proxy, echo server) per call, in ms. */
  hopCpuMsPerCall?: number;
  upstreamCpuMsPerCall?: number;
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
}

export interface IdleResult {
  sessions: number;
  hopRssBeforeBytes: number;
  hopRssAfterBytes: number;
  /** (RSS after - RSS before) / sessions; RSS includes the allocator's slack, so this is approximate. */
  hopBytesPerSession: number;
  upstreamBytesPerSession?: number;
}

export interface PathResult {
  id: PathId;
  /** a to e, as in the issue. */
  letter: string;
  label: string;
  description: string;
  /** The process whose CPU and memory the `hop` figures are (absent for the direct path). */
  hopProcess?: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
  details?: Record<string, string>;
  sequential?: SequentialResult;
  levels: LevelResult[];
  idle?: IdleResult;
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
  schema: 'bastion-bench/1';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  options: BenchOptions;
  machine: MachineDescription;
  peer: { name: string; version: string; mode: string };
  paths: PathResult[];
  engine?: EngineResult;
  /** CPU profiles written (with `--profile`). */
  profiles: string[];
  /** Where each profiled process spent its CPU time. */
  profileSummaries?: ProfileSummary[];
  notes: string[];
}
