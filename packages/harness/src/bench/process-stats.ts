/**
 * CPU time and resident memory of another process, read from /proc (Linux): the gateway, the peer
 * proxy and the upstream run as child processes precisely so that their cost can be read apart from
 * the load generator's. On other systems the figures are absent, not guessed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessReading {
  /** User + system CPU time since the process started, in ms. */
  cpuMs: number;
  rssBytes: number;
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10);
    } catch {
      clockTicks = Number.NaN;
    }
    // 100 is the value on every mainstream Linux build.
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

/** Reads one process's CPU time and RSS; undefined when it is gone or /proc is not there. */
export function readProcess(pid: number): ProcessReading | undefined {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are at 11 and 12 once pid, comm and state (1-3) are dropped.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssKb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || rssKb === undefined) return undefined;
  return { cpuMs: ((utime + stime) * 1000) / ticksPerSecond(), rssBytes: Number(rssKb) * 1024 };
}

export interface ProcessUsage {
  /** Length of the window, ms. */
  elapsedMs: number;
  /** CPU time used during the window, ms. */
  cpuMs: number;
  /** Average CPU over the window, in % of one core (200 % = two cores busy). */
  cpuPercent: number;
  rssStartBytes: number;
  rssPeakBytes: number;
  rssEndBytes: number;
}

/**
 * Measures one process over a window: CPU time at start and end, RSS sampled every `intervalMs`
 * for the peak. `stop()` ends the sampling timer; undefined figures mean the process could not be read.
 */
export class ProcessSampler {
  private readonly startedAt = performance.now();
  private readonly start: ProcessReading | undefined;
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.start = readProcess(pid);
    this.peak = this.start?.rssBytes ?? 0;
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): ProcessReading | undefined {
    const reading = readProcess(this.pid);
    if (reading && reading.rssBytes > this.peak) this.peak = reading.rssBytes;
    return reading;
  }

  stop(): ProcessUsage | undefined {
    clearInterval(this.timer);
    const end = this.sample();
    if (!this.start || !end) return undefined;
    const elapsedMs = performance.now() - this.startedAt;
    const cpuMs = end.cpuMs - this.start.cpuMs;
    return {
      elapsedMs: Math.round(elapsedMs),
      cpuMs,
      cpuPercent: percentOf(cpuMs, elapsedMs),
      rssStartBytes: this.start.rssBytes,
      rssPeakBytes: this.peak,
      rssEndBytes: end.rssBytes,
    };
  }
}

function percentOf(cpuMs: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((cpuMs / elapsedMs) * 1000) / 10 : 0;
}

/** Several processes as one (a path with replicas): CPU and RSS add up; undefined if any is unreadable. */
export function sumUsage(usages: ReadonlyArray<ProcessUsage | undefined>): ProcessUsage | undefined {
  if (usages.length === 0 || usages.some((u) => u === undefined)) return undefined;
  const all = usages as ProcessUsage[];
  const sum = (pick: (u: ProcessUsage) => number) => all.reduce((n, u) => n + pick(u), 0);
  return {
    elapsedMs: Math.max(...all.map((u) => u.elapsedMs)),
    cpuMs: sum((u) => u.cpuMs),
    cpuPercent: Math.round(sum((u) => u.cpuPercent) * 10) / 10,
    rssStartBytes: sum((u) => u.rssStartBytes),
    rssPeakBytes: sum((u) => u.rssPeakBytes),
    rssEndBytes: sum((u) => u.rssEndBytes),
  };
}

/** One process over several windows one after another (a level measured in slices): CPU adds up, RSS peaks. */
export function sequenceUsage(windows: ReadonlyArray<ProcessUsage | undefined>): ProcessUsage | undefined {
  const first = windows[0];
  const last = windows.at(-1);
  if (first === undefined || last === undefined || windows.some((u) => u === undefined)) return undefined;
  const all = windows as ProcessUsage[];
  const elapsedMs = all.reduce((n, u) => n + u.elapsedMs, 0);
  const cpuMs = all.reduce((n, u) => n + u.cpuMs, 0);
  return {
    elapsedMs,
    cpuMs,
    cpuPercent: percentOf(cpuMs, elapsedMs),
    rssStartBytes: first.rssStartBytes,
    rssPeakBytes: Math.max(...all.map((u) => u.rssPeakBytes)),
    rssEndBytes: last.rssEndBytes,
  };
}

/** CPU time and RSS of several processes added up; undefined if any is gone. */
export function readProcesses(pids: readonly number[]): ProcessReading | undefined {
  let cpuMs = 0;
  let rssBytes = 0;
  for (const pid of pids) {
    const reading = readProcess(pid);
    if (reading === undefined) return undefined;
    cpuMs += reading.cpuMs;
    rssBytes += reading.rssBytes;
  }
  return { cpuMs, rssBytes };
}
