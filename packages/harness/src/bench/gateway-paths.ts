/**
 * Paths (b) and (c): the gateway as a user runs it, its own bin as a child process with a generated
 * config, in front of the same echo upstream over Streamable HTTP, reached with a grant token.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGrantToken } from '@bastion/gateway';
import { BASTION_BINS } from '../targets/mcp-process.js';
import { freePort } from '../targets/process.js';
import { openMcpSession } from './clients.js';
import { type OpenedPath, type PathContext, type PathSpec, upstreamOf } from './paths.js';

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

async function startGateway(
  ctx: PathContext,
  id: string,
  policy: unknown,
  audit: boolean,
): Promise<OpenedPath> {
  const { token, tokenSha256 } = createGrantToken();
  const configPath = join(ctx.workDir, `gateway-${id}.json`);
  const auditPath = join(ctx.workDir, `audit-${id}.jsonl`);
  const config = {
    servers: { [SERVER]: { transport: 'http', url: upstreamOf(ctx).url, policy } },
    grants: { bench: { tokenSha256, servers: [SERVER] } },
    ...(audit ? { audit: auditPath } : {}),
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const port = await freePort();
  // One directory per gateway process: Node writes a profile per thread (tsx's loader runs in a
  // worker), named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; the main thread is thread 0.
  const profileDir = ctx.profileDir ? join(ctx.profileDir, `gateway-${id}-${Date.now()}`) : undefined;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const hop = await ctx.processes.startNode({
    name: `bastion-gateway (${id})`,
    script: BASTION_BINS.gateway,
    args: ['--config', configPath, '--host', '127.0.0.1', '--port', String(port)],
    port,
    nodeArgs,
  });
  const details: Record<string, string> = {
    policy: JSON.stringify(policy),
    audit: audit ? 'on (JSON Lines file in a temporary directory)' : 'off',
  };
  return {
    hop,
    details,
    openSession: () =>
      openMcpSession(`http://127.0.0.1:${port}/servers/${SERVER}/mcp`, { authorization: `Bearer ${token}` }),
    async stop() {
      await hop.stop();
      if (profileDir) {
        // Node writes the profiles as the process exits (the gateway exits on SIGTERM).
        const files: string[] = await readdir(profileDir).catch(() => []);
        const main = files.find((f) => f.split('.')[4] === '0' && f.endsWith('.cpuprofile'));
        if (main) details.profile = join(profileDir, main);
      }
    },
  };
}

export const gatewayAllowPath: PathSpec = {
  id: 'gateway-allow',
  letter: 'b',
  label: 'gateway, allow-all',
  description: 'SDK client -> bastion-gateway (policy {"default":"allow"}, no audit) -> echo upstream',
  needsUpstream: true,
  start: (ctx) => startGateway(ctx, 'allow', ALLOW_ALL_POLICY, false),
};

export const gatewayPolicyPath: PathSpec = {
  id: 'gateway-policy',
  letter: 'c',
  label: 'gateway, realistic policy',
  description:
    'SDK client -> bastion-gateway (default deny; echo allowed with a per-grant limit of 1e9/minute, a regex require, a contains deny_if; audit log on) -> echo upstream',
  needsUpstream: true,
  start: (ctx) => startGateway(ctx, 'policy', REALISTIC_POLICY, true),
};
