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
import { LatencyRecorder } from './histogram.js';
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

/** Order of start-up and of the per-path phases; the sequential rounds take the paths in this order too. */
const RUN_ORDER: readonly PathId[] = ['bare', 'direct', 'gateway-allow', 'gateway-policy', 'peer'];
const SESSION_OPEN_PARALLELISM = 8;
/** The sequential calls of each path are split into this many rounds, taken in turn across paths. */
const SEQUENTIAL_ROUNDS = 10;
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
  const live: LivePath[] = [];
  try {
    // 1. Every path up and warm, each with a fresh upstream of its own, so that no path inherits
    //    another's heap, JIT state or sessions.
    for (const id of RUN_ORDER) {
      const spec = specs.get(id);
      if (!options.paths.includes(id) || spec === undefined) continue;
      signal.throwIfAborted();
      const path = await startPath(spec, processes, workDir, options, hooks);
      pathResults.set(id, path.result);
      if (path.result.status === 'ok') live.push(path);
    }
    // 2. Sequential latency in interleaved rounds: load from elsewhere on the machine that comes and
    //    goes during the run falls on every path alike, so (b) - (a) compares like with like.
    await measureSequential(live, options, hooks);
    // 3. Memory per idle session and throughput, one path at a time (each path's processes are
    //    stopped once it is done).
    for (const path of live.splice(0)) {
      try {
        if (path.result.status === 'ok') await measureLoad(path, options, hooks);
      } finally {
        await path.stop();
      }
    }
  } finally {
    progress('stopping child processes');
    for (const path of live) await path.stop().catch(() => undefined);
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
        maxMs: options.engineMaxMs,
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

/** One path while it runs: its processes, its main session, and what has been measured so far. */
interface LivePath {
  spec: PathSpec;
  result: PathResult;
  opened: OpenedPath | undefined;
  hopPid: number;
  /** The upstream's pid when there is a hop in front of it (its figures are reported apart). */
  upstreamPid: number | undefined;
  main: BenchSession | undefined;
  stop(): Promise<void>;
}

function fail(path: LivePath, err: unknown, progress: (line: string) => void): void {
  path.result.status = 'failed';
  path.result.reason = errorText(err);
  const output = path.opened?.hop?.recentOutput().trim();
  if (output) path.result.reason += ` (last output: ${output.slice(-500)})`;
  progress(`(${path.spec.letter}) ${path.spec.label} failed: ${path.result.reason}`);
}

/** Starts a path (and its own upstream), opens its main session and warms it up. */
async function startPath(
  spec: PathSpec,
  processes: BenchProcesses,
  workDir: string,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<LivePath> {
  const { signal, progress } = hooks;
  const result: PathResult = {
    id: spec.id,
    letter: spec.letter,
    label: spec.label,
    description: spec.description,
    status: 'ok',
    levels: [],
  };
  let upstream: PathContext['upstream'];
  const path: LivePath = {
    spec,
    result,
    opened: undefined,
    hopPid: 0,
    upstreamPid: undefined,
    main: undefined,
    async stop() {
      const main = path.main;
      path.main = undefined;
      if (main) await main.close();
      const opened = path.opened;
      path.opened = undefined;
      await opened?.stop();
      const up = upstream;
      upstream = undefined;
      await up?.process.stop();
    },
  };
  progress(`(${spec.letter}) ${spec.label}: starting`);
  try {
    if (spec.needsUpstream) {
      const process = await processes.startBenchServer('echo-upstream');
      upstream = { url: `http://127.0.0.1:${process.port}/mcp`, process };
      progress(`(${spec.letter}) echo upstream pid ${process.pid} on 127.0.0.1:${process.port}`);
    }
    const ctx: PathContext = { processes, upstream, workDir, profileDir: options.profileDir };
    path.opened = await spec.start(ctx);
    const opened = path.opened;
    if (opened.hop) {
      result.hopProcess = opened.hop.name;
      progress(`(${spec.letter}) ${opened.hop.name} pid ${opened.hop.pid} on 127.0.0.1:${opened.hop.port}`);
    }
    if (opened.details) result.details = opened.details;
    const hopPid = opened.hop?.pid ?? upstream?.process.pid;
    if (hopPid === undefined) throw new Error('this path has neither a hop process nor an upstream');
    path.hopPid = hopPid;
    path.upstreamPid = opened.hop ? upstream?.process.pid : undefined;
    path.main = await opened.openSession();
    progress(`(${spec.letter}) warm-up: ${options.warmupCalls} calls`);
    await runSequential(path.main, {
      warmup: options.warmupCalls,
      calls: 0,
      maxMs: options.phaseMaxMs,
      signal,
    });
  } catch (err) {
    if (signal.aborted) {
      await path.stop().catch(() => undefined);
      throw signal.reason ?? err;
    }
    fail(path, err, progress);
    await path.stop().catch(() => undefined);
  }
  return path;
}

/** Sequential calls on each path's main session, in `SEQUENTIAL_ROUNDS` interleaved rounds. */
async function measureSequential(paths: readonly LivePath[], options: BenchOptions, hooks: RunHooks) {
  const { signal, progress } = hooks;
  if (paths.length === 0) return;
  const rounds = Math.max(1, Math.min(SEQUENTIAL_ROUNDS, options.sequentialCalls));
  progress(
    `sequential: ${options.sequentialCalls} calls per path in ${rounds} interleaved rounds (${paths.map((p) => p.spec.letter).join(', ')})`,
  );
  const state = paths.map((path) => ({
    path,
    recorder: new LatencyRecorder(),
    calls: 0,
    errors: 0,
    firstError: undefined as string | undefined,
    elapsedMs: 0,
    hopCpuMs: 0,
    upstreamCpuMs: 0,
    cpuKnown: true,
  }));
  for (let round = 0; round < rounds; round++) {
    for (const s of state) {
      signal.throwIfAborted();
      const main = s.path.main;
      if (main === undefined) continue;
      const calls = Math.ceil(((round + 1) * options.sequentialCalls) / rounds) - s.calls;
      const hopBefore = readProcess(s.path.hopPid);
      const upBefore = s.path.upstreamPid === undefined ? undefined : readProcess(s.path.upstreamPid);
      const outcome = await runSequential(main, {
        warmup: 0,
        calls,
        maxMs: options.phaseMaxMs / rounds,
        signal,
        recorder: s.recorder,
      });
      const hopAfter = readProcess(s.path.hopPid);
      const upAfter = s.path.upstreamPid === undefined ? undefined : readProcess(s.path.upstreamPid);
      if (hopBefore && hopAfter) s.hopCpuMs += hopAfter.cpuMs - hopBefore.cpuMs;
      else s.cpuKnown = false;
      if (upBefore && upAfter) s.upstreamCpuMs += upAfter.cpuMs - upBefore.cpuMs;
      s.calls += outcome.calls;
      s.errors += outcome.errors;
      s.firstError ??= outcome.firstError;
      s.elapsedMs += outcome.elapsedMs;
    }
  }
  signal.throwIfAborted();
  for (const s of state) {
    const { result, spec } = s.path;
    const sequential: SequentialResult = {
      latency: s.recorder.summary(),
      distribution: s.recorder.distribution(),
      hdrBase64: s.recorder.encode(),
      errors: s.errors,
      elapsedMs: Math.round(s.elapsedMs),
    };
    if (s.firstError) sequential.firstError = s.firstError;
    if (s.cpuKnown && s.calls > 0) {
      sequential.hopCpuMsPerCall = round(s.hopCpuMs / s.calls, 4);
      if (s.path.upstreamPid !== undefined)
        sequential.upstreamCpuMsPerCall = round(s.upstreamCpuMs / s.calls, 4);
    }
    result.sequential = sequential;
    progress(
      `(${spec.letter}) sequential: p50 ${sequential.latency.p50Ms} ms, p99 ${sequential.latency.p99Ms} ms (${s.recorder.count} ok, ${s.errors} errors)`,
    );
    if (s.recorder.count === 0) {
      fail(s.path, new Error(`every call failed: ${s.firstError ?? 'unknown error'}`), progress);
    }
  }
}

/** Memory per idle session, then the throughput levels, for one path. */
async function measureLoad(path: LivePath, options: BenchOptions, hooks: RunHooks): Promise<void> {
  const { signal, progress } = hooks;
  const { spec, result, hopPid, upstreamPid } = path;
  const opened = path.opened;
  if (opened === undefined) return;
  const sessions: BenchSession[] = [];
  try {
    if (options.idleSessions > 0) {
      signal.throwIfAborted();
      const idle = await measureIdle(opened, hopPid, upstreamPid, options, signal);
      if (idle) {
        result.idle = idle;
        progress(
          `(${spec.letter}) idle: ${idle.sessions} sessions, ${(idle.hopBytesPerSession / 1024).toFixed(1)} KiB each`,
        );
      }
    }
    const levels = [...options.concurrency].sort((x, y) => x - y);
    const most = levels.at(-1) ?? 0;
    if (most > 0) {
      progress(`(${spec.letter}) opening ${most} sessions for the throughput levels`);
      sessions.push(
        ...(await openSessions(() => opened.openSession(), most, {
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
    fail(path, err, progress);
  } finally {
    await closeSessions(sessions.splice(0));
  }
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
