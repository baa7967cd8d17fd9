/**
 * The open-file limit of the processes under test. Holding 50,000 sessions takes tens of thousands of
 * sockets in a gateway that keeps an upstream connection per session, far above a usual soft limit
 * (1024) and often above the hard one; hitting it is a failure of the limit, not of the process. So
 * each hop and upstream is started through util-linux's `prlimit --nofile=SOFT:HARD`, which sets the
 * limit and then executes Node itself (same pid). Raising the hard limit needs CAP_SYS_RESOURCE
 * (root outside a container that drops it): it is tried once, and without it the soft limit goes up
 * to the hard one. The report says what was done.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findBinary } from '../targets/process.js';

export interface FdLimit {
  /** Open files wanted per process under test. */
  requested: number;
  /** The soft limit the processes get. */
  applied: number;
  /** How it was set, for the report. */
  how: string;
  /** Wraps a command so that it starts with the limit (unchanged when none is needed). */
  wrap(command: string, args: string[]): { command: string; args: string[] };
}

/** Soft and hard "Max open files" of this process, from /proc/self/limits (undefined elsewhere). */
export function currentFdLimits(): { soft: number; hard: number } | undefined {
  try {
    const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return undefined;
    const value = (v: string | undefined) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: value(line[1]), hard: value(line[2]) };
  } catch {
    return undefined;
  }
}

function kernelMaximum(): number {
  try {
    return Number.parseInt(readFileSync('/proc/sys/fs/nr_open', 'utf8'), 10) || 1_048_576;
  } catch {
    return 1_048_576;
  }
}

export function planFdLimit(requested: number): FdLimit {
  const unchanged = (applied: number, how: string): FdLimit => ({
    requested,
    applied,
    how,
    wrap: (command, args) => ({ command, args }),
  });
  const limits = currentFdLimits();
  if (limits === undefined) return unchanged(0, 'not Linux: the inherited limit, unknown');
  if (requested <= limits.soft)
    return unchanged(limits.soft, `inherited soft limit ${limits.soft} is enough`);
  const prlimit = findBinary('prlimit');
  if (prlimit === undefined) {
    return unchanged(limits.soft, `inherited soft limit ${limits.soft} (prlimit not found, so not raised)`);
  }
  const wanted = Math.min(requested, kernelMaximum());
  // Whether this process may raise the hard limit: try it on a throwaway `true`.
  const mayRaise =
    wanted > limits.hard &&
    spawnSync(prlimit, [`--nofile=${wanted}:${wanted}`, 'true'], { stdio: 'ignore' }).status === 0;
  const hard = mayRaise ? wanted : limits.hard;
  const applied = Math.min(requested, hard);
  if (applied <= limits.soft) {
    return unchanged(
      limits.soft,
      `inherited limit ${limits.soft} (the hard limit, which this process may not raise: ${requested} wanted)`,
    );
  }
  const how = mayRaise
    ? `raised to ${applied} (soft and hard) with \`prlimit --nofile=${applied}:${hard}\``
    : `raised to ${applied} with \`prlimit --nofile=${applied}:${hard}\` (the hard limit, which this process may not raise: ${requested} wanted)`;
  return {
    requested,
    applied,
    how,
    wrap: (command, args) => ({ command: prlimit, args: [`--nofile=${applied}:${hard}`, command, ...args] }),
  };
}
