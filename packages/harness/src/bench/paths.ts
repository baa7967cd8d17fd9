/**
 * How each measured path is stood up. A path starts its own hop process(es), says where the load
 * generator connects and with which headers, and stops what it started.
 *
 * A path may have several hop processes behind several targets (gateway replicas, issue 11): the
 * load generator spreads its sessions over the targets in turn, and the hop figures (CPU, memory)
 * add up over the processes. A path that needs a store (Redis) starts it in `start` and stops it in
 * `stop`, like any other process it owns.
 */
import { randomBytes } from 'node:crypto';
import type { PathId } from './options.js';
import type { BenchProcesses, StartedProcess } from './processes.js';
import { PEER_PROXY_MODE, PEER_PROXY_NAME, peerProxyVersion } from './servers/peer-info.js';
import type { WireTarget } from './wire.js';

export interface PathContext {
  processes: BenchProcesses;
  /** The echo upstream, for the paths that need one. */
  upstream: { url: string; process: StartedProcess } | undefined;
  /** A private temporary directory for configs and audit files. */
  workDir: string;
  /** When set, gateway processes write a V8 CPU profile here. */
  profileDir?: string;
  /** Distinct 2026-era agents the run will send (a gateway needs a grant for each). */
  agents: number;
  /** The most 2025-era sessions the run holds open at once on the path (one grant's worth). */
  sessions: number;
}

export interface OpenedPath {
  /** Where the load generator connects, with the headers every request carries (a token). */
  targets: WireTarget[];
  /** `count` distinct agents (each its own token, so its own identity), for memory per agent. */
  agentTargets(count: number): WireTarget[];
  /** The processes that are this path's hop; empty for the direct path. */
  hops: StartedProcess[];
  details?: Record<string, string>;
  stop(): Promise<void>;
}

export interface PathSpec {
  id: PathId;
  letter: string;
  label: string;
  description: string;
  needsUpstream: boolean;
  start(ctx: PathContext): Promise<OpenedPath>;
}

export function upstreamOf(ctx: PathContext): { url: string; process: StartedProcess } {
  if (ctx.upstream === undefined) throw new Error('this path needs the echo upstream');
  return ctx.upstream;
}

/** Agents behind a server that takes any token: fresh random tokens, one identity each. */
export function anyTokenAgents(url: string): (count: number) => WireTarget[] {
  return (count) =>
    Array.from({ length: count }, (_, i) => ({
      url,
      headers: { authorization: `Bearer agent-${i}-${randomBytes(8).toString('hex')}` },
    }));
}

export const directPath: PathSpec = {
  id: 'direct',
  letter: 'a',
  label: 'direct',
  description: 'load generator -> echo upstream, no hop in between',
  needsUpstream: true,
  async start(ctx) {
    const { url } = upstreamOf(ctx);
    return { targets: [{ url }], agentTargets: anyTokenAgents(url), hops: [], stop: async () => undefined };
  },
};

export const peerPath: PathSpec = {
  id: 'peer',
  letter: 'd',
  label: `peer (${PEER_PROXY_NAME})`,
  description: `load generator -> ${PEER_PROXY_NAME} -> echo upstream, Streamable HTTP on both sides`,
  needsUpstream: true,
  async start(ctx) {
    const hop = await ctx.processes.startBenchServer('peer-mcp-proxy', ['--upstream', upstreamOf(ctx).url]);
    const url = `http://127.0.0.1:${hop.port}/mcp`;
    return {
      targets: [{ url }],
      agentTargets: anyTokenAgents(url),
      hops: [hop],
      details: { package: PEER_PROXY_NAME, version: peerProxyVersion(), mode: PEER_PROXY_MODE },
      stop: () => hop.stop(),
    };
  },
};

export const proxyHopPath: PathSpec = {
  id: 'proxy-hop',
  letter: 'e',
  label: 'plain proxy hop',
  description:
    'load generator -> a node:http reverse proxy that pipes each request to the echo upstream and the answer back (keep-alive on both sides) -> echo upstream: the floor of one MCP proxy hop',
  needsUpstream: true,
  async start(ctx) {
    const hop = await ctx.processes.startBenchServer('proxy-hop', ['--upstream', upstreamOf(ctx).url]);
    const url = `http://127.0.0.1:${hop.port}/mcp`;
    return { targets: [{ url }], agentTargets: anyTokenAgents(url), hops: [hop], stop: () => hop.stop() };
  },
};
