/**
 * What a path holds per agent, in each era:
 *
 * - 2025-11-25: idle sessions (`initialize` + `initialized`, nothing more) opened rung by rung up to
 *   `idleSessions` (50,000 in a full run) and held, with the RSS of the hop and the upstream read at
 *   each rung and the CPU it took to open them. The sessions share a few keep-alive connections: the
 *   figure is per session, not per socket. The ladder stops by itself at the first failure (an
 *   EMFILE, a refused session, a process that died), at `idleMaxMs`, or before it would take the
 *   machine's free memory below a reserve.
 * - 2026-07-28: distinct agents (a token each), one call each: RSS after minus before, per agent.
 *   A stateless agent should cost nothing beyond its counters.
 *
 * RSS includes the allocator's slack and moves with garbage collection: rough figures, which is why
 * the counts are large.
 */
import { freemem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  errorText,
  type LiveEra,
  type LivePath,
  type RunHooks,
  readCpu,
  routeName,
  spread,
} from './live-path.js';
import type { LoadGenerator } from './load-generator.js';
import { type BenchOptions, idleLadder } from './options.js';
import { readProcess, readProcesses } from './process-stats.js';
import type { CpuPerCall, IdleResult, IdleRung } from './results.js';

/** Time for the processes to settle (sockets, timers, GC) before their memory is read. */
const SETTLE_MS = 500;
/** The ladder never takes the machine's free memory below this. */
const MEMORY_RESERVE_BYTES = 2 * 1024 ** 3;
/** Sessions opened at once, over as many shared connections. */
const IDLE_PARALLELISM = 16;
const AGENT_PARALLELISM = 8;

const perUnit = (bytes: number, count: number) => (count > 0 ? Math.round(bytes / count) : 0);
const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

/** 2026 era: what the path keeps for each distinct agent after one call. */
export async function measureAgents(
  path: LivePath,
  live: LiveEra,
  load: LoadGenerator,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<void> {
  const { signal, progress } = hooks;
  if (options.statelessAgents <= 0 || path.opened === undefined) return;
  const targets = path.opened.agentTargets(options.statelessAgents);
  await sleep(SETTLE_MS, undefined, { signal });
  const before = readProcesses(path.hopPids);
  const upstreamBefore = path.upstreamPid === undefined ? undefined : readProcess(path.upstreamPid);
  const outcome = await load.run(
    { kind: 'agents', targets, parallelism: AGENT_PARALLELISM, connections: AGENT_PARALLELISM },
    signal,
  );
  await sleep(SETTLE_MS, undefined, { signal });
  const after = readProcesses(path.hopPids);
  const upstreamAfter = path.upstreamPid === undefined ? undefined : readProcess(path.upstreamPid);
  if (before === undefined || after === undefined) return;
  live.result.agents = {
    agents: targets.length,
    errors: outcome.errors,
    hopRssBeforeBytes: before.rssBytes,
    hopRssAfterBytes: after.rssBytes,
    hopBytesPerAgent: perUnit(after.rssBytes - before.rssBytes, targets.length),
    ...(upstreamBefore && upstreamAfter
      ? { upstreamBytesPerAgent: perUnit(upstreamAfter.rssBytes - upstreamBefore.rssBytes, targets.length) }
      : {}),
    ...(outcome.firstError === undefined ? {} : { firstError: outcome.firstError }),
  };
  progress(
    `${routeName(path, live.era)} ${targets.length} stateless agents: ${(live.result.agents.hopBytesPerAgent / 1024).toFixed(2)} KiB each (${outcome.errors} errors)`,
  );
}

/** 2025 era: the idle-session ladder. */
export async function measureIdle(
  path: LivePath,
  live: LiveEra,
  load: LoadGenerator,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<void> {
  const { signal, progress } = hooks;
  const targets = path.opened?.targets ?? [];
  const rungs = idleLadder(options.idleSessions);
  if (rungs.length === 0 || targets.length === 0) return;
  const group = `${path.spec.id}/${live.era}/idle`;
  await sleep(SETTLE_MS, undefined, { signal });
  const base = readProcesses(path.hopPids);
  const upstreamBase = path.upstreamPid === undefined ? undefined : readProcess(path.upstreamPid);
  if (base === undefined) return;
  const idle: IdleResult = {
    target: options.idleSessions,
    reached: 0,
    hopRssBeforeBytes: base.rssBytes,
    ...(upstreamBase ? { upstreamRssBeforeBytes: upstreamBase.rssBytes } : {}),
    rungs: [],
    openCpuMs: {},
  };
  live.result.idle = idle;
  const spent = { hop: 0, upstream: 0, generator: 0 };
  const t0 = performance.now();
  try {
    for (const rung of rungs) {
      signal.throwIfAborted();
      const remainingMs = options.idleMaxMs - (performance.now() - t0);
      if (remainingMs <= 0) {
        idle.stoppedBy = `the time cap (${options.idleMaxMs / 1000} s)`;
        break;
      }
      const short = memoryShortfall(idle, rung);
      if (short !== undefined) {
        idle.stoppedBy = short;
        break;
      }
      const cpuBefore = readCpu(path, load.pid);
      const rungStart = performance.now();
      let failure: string | undefined;
      for (const part of spread(targets, rung - idle.reached)) {
        const opened = await load.run(
          {
            kind: 'open',
            group,
            target: part.target,
            era: live.era,
            count: part.count,
            parallelism: IDLE_PARALLELISM,
            connections: IDLE_PARALLELISM,
            maxMs: remainingMs,
          },
          signal,
        );
        idle.reached += opened.opened;
        failure ??= opened.firstError;
        if (failure) break;
      }
      const cpuAfter = readCpu(path, load.pid);
      const elapsedMs = performance.now() - rungStart;
      await sleep(SETTLE_MS, undefined, { signal });
      const now = readProcesses(path.hopPids);
      const upstreamNow = path.upstreamPid === undefined ? undefined : readProcess(path.upstreamPid);
      if (now === undefined) {
        idle.stoppedBy = `the hop process exited at ${idle.reached} sessions${failure ? ` (${failure})` : ''}`;
        break;
      }
      const added = idle.reached - (idle.rungs.at(-1)?.sessions ?? 0);
      const step: IdleRung = {
        sessions: idle.reached,
        hopRssBytes: now.rssBytes,
        hopBytesPerSession: perUnit(now.rssBytes - base.rssBytes, idle.reached),
        elapsedMs: Math.round(elapsedMs),
      };
      if (upstreamNow && upstreamBase) {
        step.upstreamRssBytes = upstreamNow.rssBytes;
        step.upstreamBytesPerSession = perUnit(upstreamNow.rssBytes - upstreamBase.rssBytes, idle.reached);
      }
      for (const key of ['hop', 'upstream', 'generator'] as const) {
        const b = cpuBefore[key];
        const a = cpuAfter[key];
        if (a === undefined || b === undefined || added <= 0) continue;
        spent[key] += a - b;
        const field = `${key}CpuMsPerOpen` as const;
        step[field] = round4((a - b) / added);
      }
      if (added > 0) idle.rungs.push(step);
      progress(
        `${routeName(path, live.era)} idle: ${idle.reached} sessions, ${(step.hopBytesPerSession / 1024).toFixed(1)} KiB each, ${step.hopCpuMsPerOpen ?? '?'} ms CPU to open one`,
      );
      if (failure !== undefined) {
        idle.stoppedBy = `a failure at ${idle.reached} sessions: ${failure}`;
        break;
      }
      if (idle.reached < rung) {
        idle.stoppedBy = `the time cap (${options.idleMaxMs / 1000} s)`;
        break;
      }
    }
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    idle.stoppedBy = `an error at ${idle.reached} sessions: ${errorText(err)}`;
  } finally {
    // The path's processes stop right after: ending 50,000 sessions one DELETE at a time is not needed.
    await load.run({ kind: 'close', group, forget: true }).catch(() => undefined);
  }
  const openCpuMs: CpuPerCall = {};
  if (idle.reached > 0) {
    openCpuMs.hop = round4(spent.hop / idle.reached);
    if (path.upstreamPid !== undefined) openCpuMs.upstream = round4(spent.upstream / idle.reached);
    openCpuMs.generator = round4(spent.generator / idle.reached);
  }
  idle.openCpuMs = openCpuMs;
  if (idle.stoppedBy) progress(`${routeName(path, live.era)} idle ladder stopped by ${idle.stoppedBy}`);
}

/** Why the next rung would not fit in the machine's free memory, judged by the last rung's cost. */
function memoryShortfall(idle: IdleResult, rung: number): string | undefined {
  const last = idle.rungs.at(-1);
  if (last === undefined) return undefined;
  const perSession = Math.max(0, last.hopBytesPerSession) + Math.max(0, last.upstreamBytesPerSession ?? 0);
  const needed = perSession * (rung - idle.reached);
  const free = freemem();
  if (needed <= free - MEMORY_RESERVE_BYTES) return undefined;
  const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(1);
  return `the machine's memory: ${rung} sessions would need about ${gib(needed)} GiB more, ${gib(free)} GiB is free (${gib(MEMORY_RESERVE_BYTES)} GiB kept in reserve)`;
}
