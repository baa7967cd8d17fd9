/**
 * How each measured path is stood up. A path starts its own hop process (if any), says where the
 * load generator connects and how, and stops what it started.
 */
import type { BenchSession } from './clients.js';
import { openHttpEchoSession, openMcpSession } from './clients.js';
import type { PathId } from './options.js';
import type { BenchProcesses, StartedProcess } from './processes.js';
import { PEER_PROXY_MODE, PEER_PROXY_NAME, peerProxyVersion } from './servers/peer-info.js';

export interface PathContext {
  processes: BenchProcesses;
  /** The echo upstream, for the paths that need one. */
  upstream: { url: string; process: StartedProcess } | undefined;
  /** A private temporary directory for configs and audit files. */
  workDir: string;
  /** When set, gateway processes write a V8 CPU profile here. */
  profileDir?: string;
}

export interface OpenedPath {
  openSession(): Promise<BenchSession>;
  /** The process that is this path's extra hop; undefined for the direct path. */
  hop?: StartedProcess;
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

export const directPath: PathSpec = {
  id: 'direct',
  letter: 'a',
  label: 'direct',
  description: 'SDK client -> echo upstream (Streamable HTTP), no hop in between',
  needsUpstream: true,
  async start(ctx) {
    const upstream = upstreamOf(ctx);
    return {
      openSession: () => openMcpSession(upstream.url),
      stop: async () => undefined,
    };
  },
};

export const peerPath: PathSpec = {
  id: 'peer',
  letter: 'd',
  label: `peer (${PEER_PROXY_NAME})`,
  description: `SDK client -> ${PEER_PROXY_NAME} -> echo upstream, Streamable HTTP on both sides`,
  needsUpstream: true,
  async start(ctx) {
    const hop = await ctx.processes.startBenchServer('peer-mcp-proxy', ['--upstream', upstreamOf(ctx).url]);
    return {
      hop,
      openSession: () => openMcpSession(`http://127.0.0.1:${hop.port}/mcp`),
      details: { package: PEER_PROXY_NAME, version: peerProxyVersion(), mode: PEER_PROXY_MODE },
      stop: () => hop.stop(),
    };
  },
};

export const barePath: PathSpec = {
  id: 'bare',
  letter: 'e',
  label: 'bare HTTP hop',
  description:
    'node:http keep-alive POST of a tools/call-sized body to a server that echoes it: the floor of one hop',
  needsUpstream: false,
  async start(ctx) {
    const hop = await ctx.processes.startBenchServer('bare-echo');
    return {
      hop,
      openSession: async () => openHttpEchoSession(`http://127.0.0.1:${hop.port}/echo`),
      stop: () => hop.stop(),
    };
  },
};
