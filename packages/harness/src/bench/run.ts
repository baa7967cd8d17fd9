/**
 * One benchmark run. Every path gets a fresh echo upstream of its own and its own hop process(es);
 * one load-generator process makes every call. The phases:
 *
 *   1. every path up; in each era a main session opened, probed and warmed; then, while its heap
 *      is fresh, memory per 2026-era agent;
 *   2. sequential latency, in rounds interleaved across paths and eras;
 *   3. throughput levels, in slices interleaved across paths and eras;
 *   4. one path at a time: the 2025-era idle-session ladder, then the path's processes stop;
 *   5. the policy engine alone, in-process.
 *
 * Every child process is stopped in `finally`, whether the run ends, fails or is aborted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureAgents, measureIdle } from './capacity.js';
import { runEngineBench } from './engine.js';
import { planFdLimit } from './fd-limit.js';
import { gatewayAllowPath, gatewayPolicyPath } from './gateway-paths.js';
import { errorText, failEra, type LivePath, type RunHooks, startPath } from './live-path.js';
import { LoadGenerator } from './load-generator.js';
import { describeMachine } from './machine.js';
import { measureSequential, measureThroughput } from './measure.js';
import type { BenchOptions, PathId } from './options.js';
import { directPath, type PathSpec, peerPath, proxyHopPath } from './paths.js';
import { BenchProcesses } from './processes.js';
import { summarizeProfileFile } from './profile.js';
import type { BenchResults, EngineResult, PathResult } from './results.js';
import { PEER_PROXY_MODE, PEER_PROXY_NAME, peerProxyVersion } from './servers/peer-info.js';

export type { RunHooks } from './live-path.js';

/** Order of start-up and of the per-path phases; the sequential rounds take the paths in this order too. */
const RUN_ORDER: readonly PathId[] = ['direct', 'proxy-hop', 'gateway-allow', 'gateway-policy', 'peer'];
export const PATH_SPECS: ReadonlyMap<PathId, PathSpec> = new Map(
  [directPath, gatewayAllowPath, gatewayPolicyPath, peerPath, proxyHopPath].map((spec) => [spec.id, spec]),
);
/** Open files per idle session a process may need (agent socket, upstream socket, upstream stream), plus room. */
const FDS_PER_SESSION = 3;
const FD_HEADROOM = 4096;
const SESSION_HEADROOM = 16;

export const GENERATOR_DESCRIPTION =
  'one Node process of its own speaking MCP on the wire over keep-alive HTTP/1.1 (undici dispatch, one connection per session, prebuilt request bodies, every answer parsed and checked)';

export async function runBench(options: BenchOptions, hooks: RunHooks): Promise<BenchResults> {
  const { signal, progress } = hooks;
  const processes = hooks.processes ?? new BenchProcesses();
  // A caller's own BenchProcesses (the CLI's) gets the limit too, unless it brought one.
  processes.fdLimit ??= planFdLimit(options.idleSessions * FDS_PER_SESSION + FD_HEADROOM);
  const fdLimit = processes.fdLimit;
  const startedAt = new Date();
  const t0 = performance.now();
  const machine = describeMachine();
  const notes: string[] = [];
  const workDir = await mkdtemp(join(tmpdir(), 'bastion-bench-'));
  const paths: LivePath[] = [];
  try {
    progress(`open files per process under test: ${fdLimit.how}`);
    const load = await LoadGenerator.start(processes);
    progress(`load generator pid ${load.pid}`);
    const ctx = {
      processes,
      workDir,
      profileDir: options.profileDir,
      agents: options.statelessAgents,
      // The ladder, or the largest level, plus each era's main session.
      sessions: Math.max(options.idleSessions, ...options.concurrency) + SESSION_HEADROOM,
    };
    for (const id of RUN_ORDER) {
      const spec = PATH_SPECS.get(id);
      if (!options.paths.includes(id) || spec === undefined) continue;
      signal.throwIfAborted();
      const path = await startPath(spec, load, ctx, options, hooks);
      paths.push(path);
      await measureAgentsOf(path, load, options, hooks);
    }
    await measureSequential(paths, load, options, hooks);
    await measureThroughput(paths, load, options, hooks);
    for (const path of paths) {
      try {
        const legacy = path.eras.find((live) => live.era === '2025-11-25' && live.result.status === 'ok');
        if (legacy) await measureIdle(path, legacy, load, options, hooks);
      } finally {
        await path.stop();
      }
    }
  } finally {
    progress('stopping child processes');
    for (const path of paths) await path.stop().catch(() => undefined);
    await processes.stopAll();
    await rm(workDir, { recursive: true, force: true });
  }

  const engine = options.engineDecisions > 0 ? await engineFigures(options, hooks) : undefined;
  if (machine.loadAverage[0] !== undefined && machine.loadAverage[0] > machine.cores * 0.5) {
    notes.push(
      `The 1-minute load average was ${machine.loadAverage[0]} on ${machine.cores} cores when the run started: other work was competing for the CPU, so figures are noisy.`,
    );
  }
  const results: PathResult[] = [];
  for (const id of options.paths) {
    const path = paths.find((p) => p.spec.id === id);
    if (path) results.push(path.result);
  }
  const profiles = results.flatMap((p) => (p.details?.profile ? [p.details.profile] : []));
  const profileSummaries = [];
  for (const file of profiles) profileSummaries.push(await summarizeProfileFile(file));
  return {
    schema: 'bastion-bench/2',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - t0),
    options,
    machine,
    fdLimit: { requested: fdLimit.requested, applied: fdLimit.applied, how: fdLimit.how },
    generator: { description: GENERATOR_DESCRIPTION },
    peer: { name: PEER_PROXY_NAME, version: peerProxyVersion(), mode: PEER_PROXY_MODE },
    paths: results,
    ...(engine ? { engine } : {}),
    profiles,
    ...(profileSummaries.length > 0 ? { profileSummaries } : {}),
    notes,
  };
}

/**
 * Memory per 2026-era agent, right after the path has started and warmed up. Memory is read as RSS,
 * which grows only once the heap has no room left: later, the throughput levels would have left
 * the heap with room to spare and the agents would seem to cost nothing.
 */
async function measureAgentsOf(path: LivePath, load: LoadGenerator, options: BenchOptions, hooks: RunHooks) {
  const modern = path.eras.find((live) => live.era === '2026-07-28' && live.result.status === 'ok');
  if (modern === undefined) return;
  try {
    await measureAgents(path, modern, load, options, hooks);
  } catch (err) {
    if (hooks.signal.aborted) throw hooks.signal.reason ?? err;
    failEra(path, modern, new Error(`stateless agents: ${errorText(err)}`), hooks.progress);
  }
}

async function engineFigures(options: BenchOptions, hooks: RunHooks): Promise<EngineResult> {
  const { signal, progress } = hooks;
  signal.throwIfAborted();
  progress(
    `policy engine: ${options.engineTools} tools, ${options.engineGrants} grants, up to ${options.engineDecisions} decisions`,
  );
  try {
    const engine = await runEngineBench({
      tools: options.engineTools,
      grants: options.engineGrants,
      decisions: options.engineDecisions,
      maxMs: options.engineMaxMs,
      signal,
    });
    progress(
      `policy engine: ${engine.decisionsPerSecond} decisions/s; with token lookup ${engine.withAuthentication?.decisionsPerSecond} /s`,
    );
    return engine;
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    progress(`policy engine failed: ${errorText(err)}`);
    return {
      status: 'failed',
      reason: errorText(err),
      tools: options.engineTools,
      grants: options.engineGrants,
      decisions: 0,
    };
  }
}
