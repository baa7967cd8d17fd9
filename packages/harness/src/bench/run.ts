/**
 * One benchmark run: measures each path in turn, each with a fresh echo upstream and its own hop
 * process started before and stopped after), then the policy engine in-process. Every child
 * process is stopped in `finally`, whether the run ends, fails or is aborted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchSession } from './clients.js';
import { runEngineBench } from './engine.js';
import { gatewayAllowPath, gatewayPolicyPath } from './gateway-paths.js';
import { closeSessions, openSessions, runConcurrent, runSequential } from './load.js';
import { describeMachine } from './machine.js';
import type { BenchOptions, PathId } from './options.js';
import { barePath, directPath, type OpenedPath, type PathContext, type PathSpec, peerPath } from './paths.js';
import { ProcessSampler, readProcess } from './process-stats.js';
import { BenchProcesses } from './processes.js';
import { summarizeProfileFile } from './profile.js';
import type {
  BenchResults,
  EngineResult,
  IdleResult,
  LevelResult,
  PathResult,
  SequentialResult,
} from './results.js';
import { PEER_PROXY_MODE, PEER_PROXY_NAME, peerProxyVersion } from './servers/peer-info.js';

export interface RunHooks {
  signal: AbortSignal;
  /** One line of progress for a person (the CLI prints it on stderr). */
  progress: (line: string) => void;
  /** The owner of the child processes; given by the CLI so that it can kill them at a hard exit. */
  processes?: BenchProcesses;
}

/** Order of measurement: the floor first, then the fresh upstream alone, then the hops in front of it. */
const RUN_ORDER: readonly PathId[] = ['bare', 'direct', 'gateway-allow', 'gateway-policy', 'peer'];
const SESSION_OPEN_PARALLELISM = 8;
/** Time for a process to settle (sockets, timers, GC) before its memory is read. */
const SETTLE_MS = 500;

export async function runBench(options: BenchOptions, hooks: RunHooks): Promise<BenchResults> {
  const { signal, progress } = hooks;
  const processes = hooks.processes ?? new BenchProcesses();
  const startedAt = new Date();
  const t0 = performance.now();
  const machine = describeMachine();
  const notes: string[] = [];
  const specs = new Map<PathId, PathSpec>();
  for (const spec of [directPath, gatewayAllowPath, gatewayPolicyPath, peerPath, barePath])
    specs.set(spec.id, spec);

  const workDir = await mkdtemp(join(tmpdir(), 'bastion-bench-'));
  const pathResults = new Map<PathId, PathResult>();
  try {
    for (const id of RUN_ORDER) {
      const spec = specs.get(id);
      if (!options.paths.includes(id) || spec === undefined) continue;
      signal.throwIfAborted();
      // A fresh upstream for each path, so that no path inherits another's heap, JIT state or sessions.
      let upstream: PathContext['upstream'];
      if (spec.needsUpstream) {
        progress(`(${spec.letter}) starting a fresh echo upstream`);
        const process = await processes.startBenchServer('echo-upstream');
        upstream = { url: `http://127.0.0.1:${process.port}/mcp`, process };
        progress(`(${spec.letter}) echo upstream pid ${process.pid} on 127.0.0.1:${process.port}`);
      }
      try {
        const ctx: PathContext = { processes, upstream, workDir, profileDir: options.profileDir };
        pathResults.set(id, await measurePath(spec, ctx, options, hooks));
      } finally {
        await upstream?.process.stop();
      }
    }
  } finally {
    progress('stopping child processes');
    await processes.stopAll();
    await rm(workDir, { recursive: true, force: true });
  }

  let engine: EngineResult | undefined;
  if (options.engineDecisions > 0) {
    signal.throwIfAborted();
    progress(
      `policy engine: ${options.engineTools} tools, ${options.engineGrants} grants, up to ${options.engineDecisions} decisions`,
    );
    try {
      engine = await runEngineBench({
        tools: options.engineTools,
        grants: options.engineGrants,
        decisions: options.engineDecisions,
        maxMs: options.phaseMaxMs,
        signal,
      });
      progress(
        `policy engine: ${engine.decisionsPerSecond} decisions/s; with token lookup ${engine.withAuthentication?.decisionsPerSecond} /s`,
      );
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      engine = {
        status: 'failed',
        reason: errorText(err),
        tools: options.engineTools,
        grants: options.engineGrants,
        decisions: 0,
      };
      progress(`policy engine failed: ${engine.reason}`);
    }
  }
  if (machine.loadAverage[0] !== undefined && machine.loadAverage[0] > machine.cores * 0.5) {
    notes.push(
      `The 1-minute load average was ${machine.loadAverage[0]} on ${machine.cores} cores when the run started: other work was competing for the CPU, so figures are noisy.`,
    );
  }
  const profiles = [...pathResults.values()].flatMap((p) => (p.details?.profile ? [p.details.profile] : []));
  const profileSummaries = [];
  for (const file of profiles) profileSummaries.push(await summarizeProfileFile(file));
  const paths: PathResult[] = [];
  for (const id of options.paths) {
    const result = pathResults.get(id);
    if (result) paths.push(result);
  }
  return {
    schema: 'bastion-bench/1',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - t0),
    options,
    machine,
    peer: { name: PEER_PROXY_NAME, version: peerProxyVersion(), mode: PEER_PROXY_MODE },
    paths,
    ...(engine ? { engine } : {}),
    profiles,
    ...(profileSummaries.length > 0 ? { profileSummaries } : {}),
    notes,
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function measurePath(
  spec: PathSpec,
  ctx: PathContext,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<PathResult> {
  const { signal, progress } = hooks;
  const result: PathResult = {
    id: spec.id,
    letter: spec.letter,
    label: spec.label,
    description: spec.description,
    status: 'ok',
    levels: [],
  };
  progress(`(${spec.letter}) ${spec.label}: starting`);
  let opened: OpenedPath | undefined;
  const sessions: BenchSession[] = [];
  try {
    opened = await spec.start(ctx);
    const path = opened;
    if (path.hop) {
      result.hopProcess = path.hop.name;
      progress(`(${spec.letter}) ${path.hop.name} pid ${path.hop.pid} on 127.0.0.1:${path.hop.port}`);
    }
    if (path.details) result.details = path.details;
    const hopPid = path.hop?.pid ?? ctx.upstream?.process.pid;
    if (hopPid === undefined) throw new Error('this path has neither a hop process nor an upstream');
    // The upstream's figures are reported apart only when there is a hop in front of it.
    const upstreamPid = path.hop ? ctx.upstream?.process.pid : undefined;

    const main = await path.openSession();
    sessions.push(main);
    progress(`(${spec.letter}) warm-up: ${options.warmupCalls} calls`);
    await runSequential(main, { warmup: options.warmupCalls, calls: 0, maxMs: options.phaseMaxMs, signal });

    if (options.idleSessions > 0) {
      signal.throwIfAborted();
      const idle = await measureIdle(path, hopPid, upstreamPid, options, signal);
      if (idle) {
        result.idle = idle;
        progress(
          `(${spec.letter}) idle: ${idle.sessions} sessions, ${(idle.hopBytesPerSession / 1024).toFixed(1)} KiB each`,
        );
      }
    }

    signal.throwIfAborted();
    progress(`(${spec.letter}) sequential: ${options.sequentialCalls} calls`);
    const hopSampler = new ProcessSampler(hopPid);
    const upstreamSampler = upstreamPid === undefined ? undefined : new ProcessSampler(upstreamPid);
    const seq = await runSequential(main, {
      warmup: 0,
      calls: options.sequentialCalls,
      maxMs: options.phaseMaxMs,
      signal,
    });
    const hopUsage = hopSampler.stop();
    const upstreamUsage = upstreamSampler?.stop();
    signal.throwIfAborted();
    const succeeded = seq.recorder.count;
    const sequential: SequentialResult = {
      latency: seq.recorder.summary(),
      distribution: seq.recorder.distribution(),
      hdrBase64: seq.recorder.encode(),
      errors: seq.errors,
      elapsedMs: Math.round(seq.elapsedMs),
    };
    if (seq.firstError) sequential.firstError = seq.firstError;
    if (hopUsage && seq.calls > 0) sequential.hopCpuMsPerCall = round(hopUsage.cpuMs / seq.calls, 4);
    if (upstreamUsage && seq.calls > 0)
      sequential.upstreamCpuMsPerCall = round(upstreamUsage.cpuMs / seq.calls, 4);
    result.sequential = sequential;
    progress(
      `(${spec.letter}) sequential: p50 ${sequential.latency.p50Ms} ms, p99 ${sequential.latency.p99Ms} ms (${succeeded} ok, ${seq.errors} errors)`,
    );
    if (succeeded === 0) throw new Error(`every call failed: ${seq.firstError ?? 'unknown error'}`);
    await closeSessions(sessions.splice(0));

    const levels = [...options.concurrency].sort((x, y) => x - y);
    const most = levels.at(-1) ?? 0;
    if (most > 0) {
      progress(`(${spec.letter}) opening ${most} sessions for the throughput levels`);
      sessions.push(
        ...(await openSessions(() => path.openSession(), most, {
          parallelism: SESSION_OPEN_PARALLELISM,
          signal,
        })),
      );
      // Each session's first call pays for lazy set-up (its connection, its upstream session's first
      // request): one call on each before anything is measured.
      await Promise.all(sessions.map((session, i) => session.call(i).catch(() => undefined)));
    }
    for (const concurrency of levels) {
      signal.throwIfAborted();
      const level = await measureLevel(sessions.slice(0, concurrency), hopPid, upstreamPid, options, signal);
      result.levels.push({ ...level, concurrency });
      progress(
        `(${spec.letter}) c=${concurrency}: ${level.callsPerSecond} calls/s, p50 ${level.latency.p50Ms} ms, hop CPU ${level.hop?.cpuPercent ?? '?'} %`,
      );
    }
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    result.status = 'failed';
    result.reason = errorText(err);
    const output = opened?.hop?.recentOutput().trim();
    if (output) result.reason += ` (last output: ${output.slice(-500)})`;
    progress(`(${spec.letter}) ${spec.label} failed: ${result.reason}`);
  } finally {
    await closeSessions(sessions.splice(0));
    await opened?.stop();
  }
  return result;
}

async function measureLevel(
  sessions: BenchSession[],
  hopPid: number,
  upstreamPid: number | undefined,
  options: BenchOptions,
  signal: AbortSignal,
): Promise<Omit<LevelResult, 'concurrency'>> {
  const hopSampler = new ProcessSampler(hopPid);
  const upstreamSampler = upstreamPid === undefined ? undefined : new ProcessSampler(upstreamPid);
  const outcome = await runConcurrent(sessions, {
    durationMs: options.levelDurationMs,
    maxCalls: options.levelMaxCalls,
    signal,
  });
  const hop = hopSampler.stop();
  const upstream = upstreamSampler?.stop();
  const level: Omit<LevelResult, 'concurrency'> = {
    calls: outcome.calls,
    errors: outcome.errors,
    elapsedMs: Math.round(outcome.elapsedMs),
    callsPerSecond:
      outcome.elapsedMs > 0 ? Math.round((outcome.recorder.count * 1000) / outcome.elapsedMs) : 0,
    latency: outcome.recorder.summary(),
  };
  if (outcome.firstError) level.firstError = outcome.firstError;
  if (hop) level.hop = hop;
  if (upstream) level.upstream = upstream;
  return level;
}

async function measureIdle(
  path: OpenedPath,
  hopPid: number,
  upstreamPid: number | undefined,
  options: BenchOptions,
  signal: AbortSignal,
): Promise<IdleResult | undefined> {
  await sleep(SETTLE_MS);
  const hopBefore = readProcess(hopPid);
  const upstreamBefore = upstreamPid === undefined ? undefined : readProcess(upstreamPid);
  const idle = await openSessions(() => path.openSession(), options.idleSessions, {
    parallelism: SESSION_OPEN_PARALLELISM,
    signal,
  });
  try {
    await sleep(SETTLE_MS);
    const hopAfter = readProcess(hopPid);
    const upstreamAfter = upstreamPid === undefined ? undefined : readProcess(upstreamPid);
    // Without /proc (not Linux) there is no figure to give.
    if (!hopBefore || !hopAfter) return undefined;
    const result: IdleResult = {
      sessions: idle.length,
      hopRssBeforeBytes: hopBefore.rssBytes,
      hopRssAfterBytes: hopAfter.rssBytes,
      hopBytesPerSession: Math.round((hopAfter.rssBytes - hopBefore.rssBytes) / idle.length),
    };
    if (upstreamBefore && upstreamAfter) {
      result.upstreamBytesPerSession = Math.round(
        (upstreamAfter.rssBytes - upstreamBefore.rssBytes) / idle.length,
      );
    }
    return result;
  } finally {
    await closeSessions(idle);
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
