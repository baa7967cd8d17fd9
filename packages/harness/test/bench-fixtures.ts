import type { BenchOptions } from '../src/bench/options.js';
import { ERAS, PATH_IDS } from '../src/bench/options.js';

/** A run as small as it gets: every path in both eras, a few calls, two levels, a short ladder. */
export const TINY: BenchOptions = {
  mode: 'custom',
  paths: [...PATH_IDS],
  eras: [...ERAS],
  warmupCalls: 5,
  sequentialCalls: 20,
  phaseMaxMs: 10_000,
  concurrency: [2, 1],
  levelDurationMs: 200,
  levelMaxCalls: 40,
  idleSessions: 150,
  idleMaxMs: 30_000,
  statelessAgents: 4,
  generatorLimitPercent: 90,
  engineTools: 20,
  engineGrants: 50,
  engineDecisions: 2000,
  engineMaxMs: 10_000,
};

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
