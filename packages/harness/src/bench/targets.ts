/**
 * The targets of issue 10, read off one run's results: what the gateway must reach, what it
 * measured, and whether that meets the target. A figure that was not measured (a skipped era, a
 * quick run's short ladder, a level where the load generator was the limit) is "not measured", never
 * a pass. The benchmark reports these; no test asserts them.
 */
import type { Era, PathId } from './options.js';
import { type BenchResults, type EraResult, eraOf, type PathResult } from './results.js';

export interface TargetCheck {
  /** The gateway path it is about. */
  path: PathId;
  era: Era;
  target: string;
  measured: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

export const IDLE_SESSIONS_TARGET = 50_000;
/**
 * A stateless agent may cost the gateway no more than it costs the plain proxy hop (e), which keeps
 * nothing per agent, so that its figure is the method's noise (garbage not yet collected, JIT code),
 * give or take this much.
 */
const NOISE_BYTES = 1024;

const fixed = (value: number, digits = 2) =>
  (Math.round(value * 10 ** digits) / 10 ** digits).toFixed(digits);
const signedMs = (value: number) => `${value < 0 ? '−' : '+'}${fixed(Math.abs(value))} ms`;

function ok(path: PathResult | undefined, era: Era): EraResult | undefined {
  const result = eraOf(path, era);
  return result?.status === 'ok' ? result : undefined;
}

export function evaluateTargets(results: BenchResults): TargetCheck[] {
  const byId = (id: PathId) => results.paths.find((p) => p.id === id);
  const checks: TargetCheck[] = [];
  for (const gatewayId of ['gateway-allow', 'gateway-policy'] as const) {
    const gateway = byId(gatewayId);
    if (gateway === undefined) continue;
    for (const era of results.options.eras) {
      const add = (target: string, measured: string, met: boolean | undefined) =>
        checks.push({ path: gatewayId, era, target, measured, met });
      const g = ok(gateway, era);
      if (g === undefined) {
        add('all targets', eraOf(gateway, era)?.reason ?? 'not measured', undefined);
        continue;
      }
      const direct = ok(byId('direct'), era);
      const hop = ok(byId('proxy-hop'), era);
      const gs = g.sequential?.latency;
      const ds = direct?.sequential?.latency;
      const hs = hop?.sequential?.latency;
      if (gs && ds) {
        const added = gs.p50Ms - ds.p50Ms;
        add('added p50 over direct ≤ 0.30 ms', signedMs(added), added <= 0.3);
        if (hs) {
          const hopAdded = hs.p50Ms - ds.p50Ms;
          add(
            'added p50 within 0.10 ms of the plain proxy hop (e)',
            `${signedMs(added)} vs ${signedMs(hopAdded)}: ${signedMs(added - hopAdded)}`,
            added - hopAdded <= 0.1,
          );
        } else add('added p50 within 0.10 ms of the plain proxy hop (e)', 'no (e) in this run', undefined);
        const addedP99 = gs.p99Ms - ds.p99Ms;
        add('added p99 over direct ≤ 1.5 ms', signedMs(addedP99), addedP99 <= 1.5);
      } else add('added latency over direct', 'no (a) direct in this run', undefined);
      const valid = g.levels.filter((l) => !l.generatorLimited && l.errors === 0);
      const best = valid.reduce((m, l) => Math.max(m, l.callsPerSecond), 0);
      add(
        '≥ 8,000 calls/s from one gateway process',
        valid.length > 0 ? `${best} calls/s (best level)` : 'no valid level',
        valid.length > 0 ? best >= 8000 : undefined,
      );
      const g32 = g.levels.find((l) => l.concurrency === 32);
      const d32 = direct?.levels.find((l) => l.concurrency === 32);
      if (g32 && d32 && !g32.generatorLimited && !d32.generatorLimited && d32.callsPerSecond > 0) {
        const share = g32.callsPerSecond / d32.callsPerSecond;
        add('≥ 90 % of direct at 32 sessions', `${Math.round(share * 100)} %`, share >= 0.9);
      } else add('≥ 90 % of direct at 32 sessions', 'not measured (no valid 32-session level)', undefined);
      if (era === '2025-11-25') idleChecks(results, g, add);
      if (era === '2026-07-28' && g.agents) agentCheck(gatewayId, g, ok(byId('proxy-hop'), era), add);
    }
  }
  return checks;
}

function agentCheck(
  gatewayId: PathId,
  g: EraResult,
  hop: EraResult | undefined,
  add: (target: string, measured: string, met: boolean | undefined) => void,
) {
  const agents = g.agents;
  if (agents === undefined) return;
  const kib = (bytes: number) => `${fixed(bytes / 1024)} KiB`;
  const floor = hop?.agents?.hopBytesPerAgent;
  const measured = `${kib(agents.hopBytesPerAgent)} per agent (${agents.agents} agents)${floor === undefined ? '' : `; the plain hop (e): ${kib(floor)}`}`;
  if (gatewayId === 'gateway-policy') {
    // Each of its agents has a per-grant counter: the figure is reported, not judged.
    add('memory per 2026-era agent (each has a per-grant counter)', measured, undefined);
    return;
  }
  add(
    'no memory per 2026-era agent (within 1 KiB of the plain hop (e), which keeps none)',
    measured,
    floor === undefined ? undefined : agents.hopBytesPerAgent - floor <= NOISE_BYTES,
  );
}

function idleChecks(
  results: BenchResults,
  g: EraResult,
  add: (target: string, measured: string, met: boolean | undefined) => void,
) {
  const idle = g.idle;
  if (idle === undefined) {
    add(`${IDLE_SESSIONS_TARGET} idle sessions at ≤ 20 KiB each`, 'not measured', undefined);
    add('opening a session ≤ 0.3 ms of CPU', 'not measured', undefined);
    return;
  }
  const top = idle.rungs.at(-1);
  const kib = top ? top.hopBytesPerSession / 1024 : undefined;
  const measured = `${idle.reached} sessions${kib === undefined ? '' : `, ${fixed(kib, 1)} KiB each`}${idle.stoppedBy ? `; stopped by ${idle.stoppedBy}` : ''}`;
  const attempted = results.options.idleSessions >= IDLE_SESSIONS_TARGET;
  add(
    `${IDLE_SESSIONS_TARGET} idle sessions at ≤ 20 KiB each`,
    attempted ? measured : `${measured} (a ladder of ${results.options.idleSessions} only)`,
    attempted ? idle.reached >= IDLE_SESSIONS_TARGET && kib !== undefined && kib <= 20 : undefined,
  );
  const cpu = idle.openCpuMs.hop;
  add(
    'opening a session ≤ 0.3 ms of CPU',
    cpu === undefined ? 'not measured' : `${fixed(cpu, 3)} ms`,
    cpu === undefined ? undefined : cpu <= 0.3,
  );
}
