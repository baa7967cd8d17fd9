/**
 * Paths (b) and (c): the gateway as a user runs it, its own bin as a child process with a generated
 * config, in front of the same echo upstream over Streamable HTTP, reached with a grant token.
 *
 * `startGateway` also takes what issue 11's paths need: several replicas on one config (each its
 * own process and target; the load generator spreads sessions over them) and extra config keys (the
 * counter store, e.g. `{ counters: { redis: 'redis://…' } }` once the gateway reads it).
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGrantToken, resolveConfig } from '@bastion/gateway';
import { BASTION_BINS } from '../targets/mcp-process.js';
import { freePort } from '../targets/process.js';
import type { OpenedPath, PathContext, PathSpec } from './paths.js';
import { upstreamOf } from './paths.js';
import type { StartedProcess } from './processes.js';
import type { WireTarget } from './wire.js';

const SERVER = 'echo';

/** (b): every tool allowed, nothing counted, no audit log. */
export const ALLOW_ALL_POLICY = { version: '1', default: 'allow' } as const;

/**
 * (c): what a careful user writes: default deny, the one tool allowed with a rate limit whose max is
 * never reached, a condition that must hold and one that must not, and an audit row for every call.
 */
export const REALISTIC_POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    echo: {
      limits: [{ counter: 'echo_rate', window: 'minute', max: 1_000_000_000, scope: 'grant' }],
      require: [{ path: 'args.text', op: 'regex', value: '^bench-[0-9]+$' }],
      deny_if: [{ path: 'args.text', op: 'contains', value: 'rm -rf' }],
    },
  },
} as const;

export interface GatewayPathOptions {
  id: string;
  policy: unknown;
  audit: boolean;
  /** Gateway processes on the same config (default 1). */
  replicas?: number;
  /** Merged into the generated config (a counter store, for instance). */
  extraConfig?: Record<string, unknown>;
}

export async function startGateway(ctx: PathContext, options: GatewayPathOptions): Promise<OpenedPath> {
  const { id, policy, audit } = options;
  const main = createGrantToken();
  // One grant per 2026-era agent: the gateway tells agents apart by their token, nothing else.
  const agents = Array.from({ length: ctx.agents }, () => createGrantToken());
  const grants: Record<string, unknown> = { bench: { tokenSha256: main.tokenSha256, servers: [SERVER] } };
  agents.forEach((agent, i) => {
    grants[`agent-${i}`] = { tokenSha256: agent.tokenSha256, servers: [SERVER] };
  });
  const configPath = join(ctx.workDir, `gateway-${id}.json`);
  const config = {
    servers: { [SERVER]: { transport: 'http', url: upstreamOf(ctx).url, policy } },
    grants,
    ...(audit ? { audit: join(ctx.workDir, `audit-${id}.jsonl`) } : {}),
    ...options.extraConfig,
  };
  const capped = withSessionCaps(config, ctx.sessions, ctx.workDir);
  await writeFile(configPath, JSON.stringify(capped.config, null, 2));
  // One directory per gateway process: Node writes a profile per thread (tsx's loader runs in a
  // worker), named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; the main thread is thread 0.
  const profileDir = ctx.profileDir ? join(ctx.profileDir, `gateway-${id}-${Date.now()}`) : undefined;
  const hops: StartedProcess[] = [];
  const replicas = options.replicas ?? 1;
  try {
    for (let r = 0; r < replicas; r++) {
      const port = await freePort();
      const dir = profileDir && replicas > 1 ? join(profileDir, `replica-${r}`) : profileDir;
      hops.push(
        await ctx.processes.startNode({
          name: replicas > 1 ? `bastion-gateway (${id} #${r + 1})` : `bastion-gateway (${id})`,
          script: BASTION_BINS.gateway,
          args: ['--config', configPath, '--host', '127.0.0.1', '--port', String(port)],
          port,
          nodeArgs: dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [],
        }),
      );
    }
  } catch (err) {
    await Promise.all(hops.map((hop) => hop.stop()));
    throw err;
  }
  const urls = hops.map((hop) => `http://127.0.0.1:${hop.port}/servers/${SERVER}/mcp`);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const details: Record<string, string> = {
    policy: JSON.stringify(policy),
    audit: audit ? 'on (JSON Lines file in a temporary directory)' : 'off',
    sessionCaps: capped.note,
    ...(replicas > 1 ? { replicas: String(replicas) } : {}),
  };
  return {
    hops,
    details,
    targets: urls.map((url) => ({ url, headers: bearer(main.token) })),
    agentTargets(count): WireTarget[] {
      if (count > agents.length)
        throw new Error(`the gateway has grants for ${agents.length} agents, not ${count}`);
      return agents.slice(0, count).map((agent, i) => ({
        url: urls[i % urls.length] as string,
        headers: bearer(agent.token),
      }));
    },
    async stop() {
      await Promise.all(hops.map((hop) => hop.stop()));
      if (profileDir) {
        // Node writes the profiles as the process exits (the gateway exits on SIGTERM).
        const files: string[] = await readdir(profileDir).catch(() => []);
        const first = files.find((f) => f.split('.')[4] === '0' && f.endsWith('.cpuprofile'));
        if (first) details.profile = join(profileDir, first);
      }
    },
  };
}

/**
 * A gateway with the forwarding core caps 2025-era sessions per grant and per process (issue 10,
 * `limits.sessionsPerGrant` / `limits.sessions`). The benchmark opens many sessions with one grant on
 * purpose, so it raises both to what it will open; a gateway whose config has no such caps (before
 * the core) would refuse the key, so the gateway's own config parser decides whether to send it.
 */
function withSessionCaps(
  config: Record<string, unknown>,
  sessions: number,
  baseDir: string,
): { config: Record<string, unknown>; note: string } {
  resolveConfig(config, { baseDir });
  const capped = { ...config, limits: { sessionsPerGrant: sessions, sessions } };
  try {
    resolveConfig(capped, { baseDir });
    return { config: capped, note: `limits.sessionsPerGrant and limits.sessions raised to ${sessions}` };
  } catch {
    return { config, note: 'none in this gateway (its config has no "limits")' };
  }
}

export const gatewayAllowPath: PathSpec = {
  id: 'gateway-allow',
  letter: 'b',
  label: 'gateway, allow-all',
  description: 'load generator -> bastion-gateway (policy {"default":"allow"}, no audit) -> echo upstream',
  needsUpstream: true,
  start: (ctx) => startGateway(ctx, { id: 'allow', policy: ALLOW_ALL_POLICY, audit: false }),
};

export const gatewayPolicyPath: PathSpec = {
  id: 'gateway-policy',
  letter: 'c',
  label: 'gateway, realistic policy',
  description:
    'load generator -> bastion-gateway (default deny; echo allowed with a per-grant limit of 1e9/minute, a regex require, a contains deny_if; audit log on) -> echo upstream',
  needsUpstream: true,
  start: (ctx) => startGateway(ctx, { id: 'policy', policy: REALISTIC_POLICY, audit: true }),
};
