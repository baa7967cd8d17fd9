/**
 * One path while a run measures it: its own echo upstream and hop processes, and in the load
 * generator one main session per era. Starting a path probes each era with one call: a target that
 * answers "I do not speak this era" has the era skipped (with its answer as the reason), anything
 * else that goes wrong fails it.
 */
import type { LoadGenerator } from './load-generator.js';
import type { BenchOptions, Era } from './options.js';
import type { OpenedPath, PathContext, PathSpec } from './paths.js';
import { readProcess, readProcesses } from './process-stats.js';
import type { BenchProcesses, StartedProcess } from './processes.js';
import type { EraResult, PathResult } from './results.js';
import type { WireTarget } from './wire.js';

export interface RunHooks {
  signal: AbortSignal;
  /** One line of progress for a person (the CLI prints it on stderr). */
  progress: (line: string) => void;
  /** The owner of the child processes; given by the CLI so that it can kill them at a hard exit. */
  processes?: BenchProcesses;
}

export interface LiveEra {
  era: Era;
  result: EraResult;
  /** The load generator's group holding this era's main session. */
  group: string;
}

export interface LivePath {
  spec: PathSpec;
  result: PathResult;
  opened: OpenedPath | undefined;
  upstream: StartedProcess | undefined;
  /** Whose CPU and memory are the path's own: its hops, or for direct the upstream itself. */
  hopPids: number[];
  /** The upstream's pid when there is a hop in front of it (its figures are reported apart). */
  upstreamPid: number | undefined;
  eras: LiveEra[];
  stop(): Promise<void>;
}

/** CPU time (ms, since start) of the path's hop(s), its upstream and the load generator, read together. */
export function readCpu(
  path: LivePath,
  generatorPid: number,
): { hop?: number; upstream?: number; generator?: number } {
  return {
    hop: readProcesses(path.hopPids)?.cpuMs,
    upstream: path.upstreamPid === undefined ? undefined : readProcess(path.upstreamPid)?.cpuMs,
    generator: readProcess(generatorPid)?.cpuMs,
  };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The label of a path in one era, for progress lines and reports. */
export function routeName(path: LivePath, era: Era): string {
  return `(${path.spec.letter}) ${path.spec.label} [${era}]`;
}

/** Fails one era of a path (the other era may still be measured). */
export function failEra(path: LivePath, live: LiveEra, err: unknown, progress: (line: string) => void): void {
  live.result.status = 'failed';
  live.result.reason = errorText(err);
  const output = path.opened?.hops
    .map((hop) => hop.recentOutput().trim())
    .filter(Boolean)
    .join(' | ');
  if (output) live.result.reason += ` (last output: ${output.slice(-500)})`;
  progress(`${routeName(path, live.era)} failed: ${live.result.reason}`);
}

/** Sessions of `count` spread over the path's targets in turn (one target unless replicas). */
export function spread(
  targets: readonly WireTarget[],
  count: number,
): Array<{ target: WireTarget; count: number }> {
  return targets
    .map((target, i) => ({
      target,
      count: Math.floor(count / targets.length) + (i < count % targets.length ? 1 : 0),
    }))
    .filter((part) => part.count > 0);
}

/** Starts a path (and its own upstream), then opens, probes and warms one main session per era. */
export async function startPath(
  spec: PathSpec,
  load: LoadGenerator,
  ctx: Omit<PathContext, 'upstream'>,
  options: BenchOptions,
  hooks: RunHooks,
): Promise<LivePath> {
  const { signal, progress } = hooks;
  const result: PathResult = {
    id: spec.id,
    letter: spec.letter,
    label: spec.label,
    description: spec.description,
    hopProcesses: [],
    status: 'ok',
    eras: [],
  };
  const path: LivePath = {
    spec,
    result,
    opened: undefined,
    upstream: undefined,
    hopPids: [],
    upstreamPid: undefined,
    eras: [],
    async stop() {
      for (const live of path.eras)
        await load.run({ kind: 'close', group: live.group }).catch(() => undefined);
      const opened = path.opened;
      path.opened = undefined;
      await opened?.stop();
      const upstream = path.upstream;
      path.upstream = undefined;
      await upstream?.stop();
    },
  };
  progress(`(${spec.letter}) ${spec.label}: starting`);
  try {
    if (spec.needsUpstream) {
      path.upstream = await ctx.processes.startBenchServer('echo-upstream');
      progress(`(${spec.letter}) echo upstream pid ${path.upstream.pid} on 127.0.0.1:${path.upstream.port}`);
    }
    const upstream = path.upstream && {
      url: `http://127.0.0.1:${path.upstream.port}/mcp`,
      process: path.upstream,
    };
    path.opened = await spec.start({ ...ctx, upstream });
    const opened = path.opened;
    for (const hop of opened.hops)
      progress(`(${spec.letter}) ${hop.name} pid ${hop.pid} on 127.0.0.1:${hop.port}`);
    if (opened.details) result.details = opened.details;
    if (opened.hops.length > 0) {
      path.hopPids = opened.hops.map((hop) => hop.pid);
      result.hopProcesses = opened.hops.map((hop) => hop.name);
      path.upstreamPid = path.upstream?.pid;
    } else if (path.upstream) {
      path.hopPids = [path.upstream.pid];
      result.hopProcesses = ['echo upstream'];
    } else throw new Error('this path has neither a hop process nor an upstream');
  } catch (err) {
    await path.stop().catch(() => undefined);
    if (signal.aborted) throw signal.reason ?? err;
    result.status = 'failed';
    result.reason = errorText(err);
    progress(`(${spec.letter}) ${spec.label} failed to start: ${result.reason}`);
    return path;
  }
  for (const era of options.eras) {
    const live: LiveEra = { era, result: { era, status: 'ok', levels: [] }, group: `${spec.id}/${era}/main` };
    path.eras.push(live);
    result.eras.push(live.result);
    await openMain(path, live, load, options, hooks);
  }
  return path;
}

async function openMain(
  path: LivePath,
  live: LiveEra,
  load: LoadGenerator,
  options: BenchOptions,
  hooks: RunHooks,
) {
  const { signal, progress } = hooks;
  const target = path.opened?.targets[0];
  if (target === undefined) return failEra(path, live, new Error('the path has no target'), progress);
  try {
    const open = await load.run(
      {
        kind: 'open',
        group: live.group,
        target,
        era: live.era,
        count: 1,
        parallelism: 1,
        connections: 0,
        maxMs: 30_000,
      },
      signal,
    );
    if (open.opened === 0) throw new Error(open.firstError ?? 'could not open a session');
    const probe = await load.run({ kind: 'probe', group: live.group }, signal);
    if (!probe.ok && probe.refused) {
      live.result.status = 'skipped';
      live.result.reason = `the target does not speak ${live.era}: ${probe.error ?? ''}`;
      progress(`${routeName(path, live.era)} skipped: ${live.result.reason}`);
      return;
    }
    if (!probe.ok) throw new Error(probe.error ?? 'the first call failed');
    progress(`${routeName(path, live.era)} warm-up: ${options.warmupCalls} calls`);
    await load.run(
      {
        kind: 'sequential',
        group: live.group,
        warmup: options.warmupCalls,
        calls: 0,
        maxMs: options.phaseMaxMs,
      },
      signal,
    );
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    failEra(path, live, err, progress);
  }
}
