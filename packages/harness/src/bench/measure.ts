/**
 * Latency and throughput. The load generator makes the calls in its own process; this side reads
 * the CPU of each process around every job, so each figure comes with what it cost the hop, the
 * upstream and the generator.
 */
import { LatencyRecorder } from './histogram.js';
import {
  errorText,
  failEra,
  type LiveEra,
  type LivePath,
  type RunHooks,
  readCpu,
  routeName,
  spread,
} from './live-path.js';
import type { LoadGenerator } from './load-generator.js';
import type { LoadResults } from './load-protocol.js';
import type { BenchOptions } from './options.js';
import { ProcessSampler, type ProcessUsage, sequenceUsage, sumUsage } from './process-stats.js';
import type { CpuPerCall, LevelResult, SequentialResult } from './results.js';

/** The sequential calls of each route are split into this many rounds, taken in turn across routes. */
const SEQUENTIAL_ROUNDS = 10;
/** Sessions opened at once for the throughput levels. */
const OPEN_PARALLELISM = 8;

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Sequential calls on each route's main session, in interleaved rounds (500 calls of (a), then of
 * (b), ... then (a) again), so that load from elsewhere on the machine that comes and goes during
 * the run falls on every route alike and (b) − (a) compares like with like.
 */
export async function measureSequential(
  paths: readonly LivePath[],
  load: LoadGenerator,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<void> {
  const { signal, progress } = hooks;
  const routes = paths.flatMap((path) =>
    path.eras.filter((live) => live.result.status === 'ok').map((live) => ({ path, live })),
  );
  if (routes.length === 0) return;
  const rounds = Math.max(1, Math.min(SEQUENTIAL_ROUNDS, options.sequentialCalls));
  progress(
    `sequential: ${options.sequentialCalls} calls per path and era in ${rounds} interleaved rounds (${routes.length} routes)`,
  );
  const state = routes.map((route) => ({
    ...route,
    recorder: new LatencyRecorder(),
    calls: 0,
    errors: 0,
    firstError: undefined as string | undefined,
    elapsedMs: 0,
    cpu: { hop: 0, upstream: 0, generator: 0 },
    known: { hop: true, upstream: route.path.upstreamPid !== undefined, generator: true },
  }));
  for (let r = 0; r < rounds; r++) {
    for (const s of state) {
      signal.throwIfAborted();
      const calls = Math.ceil(((r + 1) * options.sequentialCalls) / rounds) - s.calls;
      const before = readCpu(s.path, load.pid);
      const outcome = await load.run(
        { kind: 'sequential', group: s.live.group, warmup: 0, calls, maxMs: options.phaseMaxMs / rounds },
        signal,
      );
      const after = readCpu(s.path, load.pid);
      for (const key of ['hop', 'upstream', 'generator'] as const) {
        const b = before[key];
        const a = after[key];
        if (a !== undefined && b !== undefined) s.cpu[key] += a - b;
        else s.known[key] = false;
      }
      s.recorder.addEncoded(outcome.hdrBase64);
      s.calls += outcome.calls;
      s.errors += outcome.errors;
      s.firstError ??= outcome.firstError;
      s.elapsedMs += outcome.elapsedMs;
    }
  }
  for (const s of state) {
    const cpuMsPerCall: CpuPerCall = {};
    for (const key of ['hop', 'upstream', 'generator'] as const) {
      if (s.known[key] && s.calls > 0) cpuMsPerCall[key] = round(s.cpu[key] / s.calls, 4);
    }
    const sequential: SequentialResult = {
      latency: s.recorder.summary(),
      distribution: s.recorder.distribution(),
      hdrBase64: s.recorder.encode(),
      calls: s.calls,
      errors: s.errors,
      elapsedMs: Math.round(s.elapsedMs),
      cpuMsPerCall,
    };
    if (s.firstError) sequential.firstError = s.firstError;
    s.live.result.sequential = sequential;
    progress(
      `${routeName(s.path, s.live.era)} sequential: p50 ${sequential.latency.p50Ms} ms, p99 ${sequential.latency.p99Ms} ms (${s.recorder.count} ok, ${s.errors} errors)`,
    );
    if (s.recorder.count === 0) {
      failEra(s.path, s.live, new Error(`every call failed: ${s.firstError ?? 'unknown error'}`), progress);
    }
  }
}

/** One route's share of a throughput level, added up over its slices. */
interface LevelSlices {
  recorder: LatencyRecorder;
  calls: number;
  recorded: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  hop: Array<ProcessUsage | undefined>;
  upstream: Array<ProcessUsage | undefined>;
  generator: Array<ProcessUsage | undefined>;
}

/**
 * The throughput levels: sessions (2025) or agents (2026) calling back to back, each with a
 * keep-alive connection of its own. Every route's sessions are opened first; then each level is
 * taken in `LEVEL_ROUNDS` slices interleaved across routes (as the sequential rounds are), so that
 * load from elsewhere on the machine that comes and goes falls on every route alike, and "(b) at 32
 * sessions against (a) at 32" compares figures taken minutes, not a quarter of an hour, apart.
 */
export async function measureThroughput(
  paths: readonly LivePath[],
  load: LoadGenerator,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<void> {
  const { signal, progress } = hooks;
  const levels = [...options.concurrency].sort((x, y) => x - y);
  const most = levels.at(-1) ?? 0;
  if (most === 0) return;
  const routes: Array<{ path: LivePath; live: LiveEra; group: string }> = [];
  try {
    for (const path of paths) {
      for (const live of path.eras.filter((l) => l.result.status === 'ok')) {
        const group = `${path.spec.id}/${live.era}/levels`;
        try {
          await openLevelSessions(path, live, group, most, load, options, signal);
          routes.push({ path, live, group });
        } catch (err) {
          await load.run({ kind: 'close', group }).catch(() => undefined);
          if (signal.aborted) throw signal.reason ?? err;
          failEra(path, live, new Error(`throughput: ${errorText(err)}`), progress);
        }
      }
    }
    if (routes.length === 0) return;
    const rounds = Math.max(1, LEVEL_ROUNDS);
    progress(
      `throughput: levels ${levels.join(', ')} in ${rounds} interleaved slices of ${options.levelDurationMs / rounds} ms (${routes.length} routes)`,
    );
    for (const concurrency of levels) {
      const slices = routes.map(() => emptySlices());
      for (let r = 0; r < rounds; r++) {
        for (const [i, route] of routes.entries()) {
          signal.throwIfAborted();
          await measureSlice(
            route.path,
            load,
            route.group,
            concurrency,
            slices[i] as LevelSlices,
            options,
            rounds,
            signal,
          );
        }
      }
      for (const [i, route] of routes.entries()) {
        const level = levelOf(concurrency, slices[i] as LevelSlices, options);
        route.live.result.levels.push(level);
        progress(
          `${routeName(route.path, route.live.era)} c=${concurrency}: ${level.callsPerSecond} calls/s, p50 ${level.latency.p50Ms} ms, hop CPU ${level.hop?.cpuPercent ?? '?'} %, generator CPU ${level.generator?.cpuPercent ?? '?'} %${level.generatorLimited ? ' (generator-limited: invalid)' : ''}`,
        );
      }
    }
  } finally {
    for (const route of routes) await load.run({ kind: 'close', group: route.group }).catch(() => undefined);
  }
}

/** The slices of each level: 5 s becomes five 1-s slices, each route in turn. */
const LEVEL_ROUNDS = 5;

async function openLevelSessions(
  path: LivePath,
  live: LiveEra,
  group: string,
  most: number,
  load: LoadGenerator,
  options: BenchOptions,
  signal: AbortSignal,
): Promise<void> {
  // A keep-alive connection per session, as agents have; spread over the targets (replicas).
  for (const part of spread(path.opened?.targets ?? [], most)) {
    const open = await load.run(
      {
        kind: 'open',
        group,
        target: part.target,
        era: live.era,
        count: part.count,
        parallelism: OPEN_PARALLELISM,
        connections: 0,
        maxMs: options.phaseMaxMs * 4,
      },
      signal,
    );
    if (open.firstError) throw new Error(`opening ${most} sessions: ${open.firstError}`);
  }
  // Each session's first call pays for lazy set-up (its connection, its upstream session): one
  // call on each before anything is measured.
  await load.run(
    { kind: 'concurrent', group, sessions: most, durationMs: options.phaseMaxMs, maxCalls: most },
    signal,
  );
}

function emptySlices(): LevelSlices {
  return {
    recorder: new LatencyRecorder(),
    calls: 0,
    recorded: 0,
    errors: 0,
    elapsedMs: 0,
    hop: [],
    upstream: [],
    generator: [],
  };
}

async function measureSlice(
  path: LivePath,
  load: LoadGenerator,
  group: string,
  concurrency: number,
  into: LevelSlices,
  options: BenchOptions,
  rounds: number,
  signal: AbortSignal,
): Promise<void> {
  const hopSamplers = path.hopPids.map((pid) => new ProcessSampler(pid));
  const upstreamSampler = path.upstreamPid === undefined ? undefined : new ProcessSampler(path.upstreamPid);
  const generatorSampler = new ProcessSampler(load.pid);
  // Samplers own timers: stopped whatever happens.
  const stopSamplers = () => {
    into.hop.push(sumUsage(hopSamplers.map((s) => s.stop())));
    if (upstreamSampler) into.upstream.push(upstreamSampler.stop());
    into.generator.push(generatorSampler.stop());
  };
  let outcome: LoadResults['concurrent'];
  try {
    outcome = await load.run(
      {
        kind: 'concurrent',
        group,
        sessions: concurrency,
        durationMs: options.levelDurationMs / rounds,
        maxCalls: Math.max(1, Math.floor(options.levelMaxCalls / rounds)),
      },
      signal,
    );
  } finally {
    stopSamplers();
  }
  into.recorder.addEncoded(outcome.hdrBase64);
  into.calls += outcome.calls;
  into.recorded += outcome.recorded;
  into.errors += outcome.errors;
  into.firstError ??= outcome.firstError;
  into.elapsedMs += outcome.elapsedMs;
}

function levelOf(concurrency: number, slices: LevelSlices, options: BenchOptions): LevelResult {
  const hop = sequenceUsage(slices.hop);
  const upstream = slices.upstream.length > 0 ? sequenceUsage(slices.upstream) : undefined;
  const generator = sequenceUsage(slices.generator);
  const level: LevelResult = {
    concurrency,
    calls: slices.calls,
    errors: slices.errors,
    elapsedMs: Math.round(slices.elapsedMs),
    callsPerSecond: slices.elapsedMs > 0 ? Math.round((slices.recorded * 1000) / slices.elapsedMs) : 0,
    latency: slices.recorder.summary(),
    generatorLimited: (generator?.cpuPercent ?? 0) >= options.generatorLimitPercent,
  };
  if (slices.firstError) level.firstError = slices.firstError;
  if (hop) level.hop = hop;
  if (upstream) level.upstream = upstream;
  if (generator) level.generator = generator;
  return level;
}
