/**
 * The gateway under test and what it fronts: from the environment (`bastion test --suite gateway
 * --gateway-url ...`), or ours; the policy it claims to enforce; the upstream, listed directly and,
 * when the harness runs it, restarted on the same port.
 */
import { readFileSync } from 'node:fs';
import { type CompiledPolicy, formatProblems, parsePolicyText } from '@bastion/gateway';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ServiceProcess } from '../../targets/process.js';
import { CONTRACT_ENV } from '../env.js';
import { openEndpoint, type TransportChoice } from '../mcp-client.js';
import { CallLedger, GatewayAgent, type GatewayEndpoint } from './agent.js';
import { DEFAULT_MAX_OBSERVED_WINDOW_MS, type GatewayCheckContext } from './check-kit.js';

export interface ExternalGateway {
  endpoint: GatewayEndpoint;
  policyPath: string;
  upstreamUrl: string | undefined;
  upstreamToken: string | undefined;
  upstreamCommand: string | undefined;
  /** The longest limit window watched whole (ms). */
  maxObservedWindowMs: number;
}

export function externalGateway(env: NodeJS.ProcessEnv): ExternalGateway | undefined {
  const url = env[CONTRACT_ENV.gatewayUrl];
  if (url === undefined || url === '') return undefined;
  const policyPath = env[CONTRACT_ENV.gatewayPolicy];
  if (policyPath === undefined || policyPath === '') {
    throw new Error(`${CONTRACT_ENV.gatewayUrl} is set but ${CONTRACT_ENV.gatewayPolicy} is not`);
  }
  const upstreamCommand = env[CONTRACT_ENV.upstreamCommand] || undefined;
  const maxWindow = env[CONTRACT_ENV.gatewayMaxWindow];
  const maxWindowSeconds = maxWindow === undefined || maxWindow === '' ? undefined : Number(maxWindow);
  if (maxWindowSeconds !== undefined && !(maxWindowSeconds > 0)) {
    throw new Error(`${CONTRACT_ENV.gatewayMaxWindow}: expected a number of seconds, got ${maxWindow}`);
  }
  const upstreamUrl = env[CONTRACT_ENV.upstreamUrl] || undefined;
  if (upstreamCommand !== undefined && upstreamUrl === undefined) {
    throw new Error(`${CONTRACT_ENV.upstreamCommand} needs ${CONTRACT_ENV.upstreamUrl}`);
  }
  return {
    endpoint: {
      url,
      transport: (env[CONTRACT_ENV.gatewayTransport] ?? 'auto') as TransportChoice,
      token: env[CONTRACT_ENV.gatewayToken] || undefined,
    },
    policyPath,
    upstreamUrl,
    upstreamToken: env[CONTRACT_ENV.upstreamToken] || undefined,
    upstreamCommand,
    maxObservedWindowMs:
      maxWindowSeconds === undefined ? DEFAULT_MAX_OBSERVED_WINDOW_MS : maxWindowSeconds * 1000,
  };
}

/** Reads and compiles a policy file; an invalid one throws with every problem and its pointer. */
export function loadPolicyForChecks(path: string): CompiledPolicy {
  const result = parsePolicyText(readFileSync(path, 'utf8'));
  if (!result.ok) throw new Error(formatProblems(result.problems, path));
  return result.policy;
}

export async function listUpstreamTools(url: string, token?: string): Promise<Tool[]> {
  const session = await openEndpoint(url, {
    clientName: 'bastion-gateway-checks-upstream',
    ...(token ? { token } : {}),
  });
  try {
    return await session.listTools();
  } finally {
    await session.close();
  }
}

/** A shell command that serves the upstream at `url`; `restart()` kills it (SIGKILL) and starts it again. */
export class UpstreamCommand {
  private readonly service: ServiceProcess;

  constructor(command: string, url: string) {
    const parsed = new URL(url);
    const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    // `exec` so the kill reaches the server itself, not a shell that would leave it running.
    this.service = new ServiceProcess({
      name: 'upstream',
      command: '/bin/sh',
      args: ['-c', `exec ${command}`],
      port,
      host: parsed.hostname,
      readyTimeoutMs: 20_000,
    });
  }

  /** ServiceProcess tracks every child it starts (run-scope.ts), so none outlives this process. */
  start(): Promise<void> {
    return this.service.start();
  }

  async restart(): Promise<void> {
    await this.service.kill('SIGKILL');
    await this.service.start();
  }

  async stop(): Promise<void> {
    await this.service.stop();
  }
}

export interface CheckSession extends GatewayCheckContext {
  close(): Promise<void>;
}

export async function openCheckSession(options: {
  endpoint: GatewayEndpoint;
  policy: CompiledPolicy;
  upstreamTools: ReadonlyArray<Tool> | undefined;
  restartUpstream: (() => Promise<void>) | undefined;
  /** Default: a minute (DEFAULT_MAX_OBSERVED_WINDOW_MS). */
  maxObservedWindowMs?: number;
  /** The policy is the harness's own (see GatewayCheckContext.ownPolicy). */
  ownPolicy?: boolean;
}): Promise<CheckSession> {
  const ledger = new CallLedger();
  let agent = await GatewayAgent.open(options.endpoint, ledger);
  return {
    policy: options.policy,
    endpoint: options.endpoint,
    ledger,
    upstreamTools: options.upstreamTools,
    restartUpstream: options.restartUpstream,
    maxObservedWindowMs: options.maxObservedWindowMs ?? DEFAULT_MAX_OBSERVED_WINDOW_MS,
    ownPolicy: options.ownPolicy ?? false,
    agent: () => agent,
    async replaceAgent() {
      await agent.close();
      agent = await GatewayAgent.open(options.endpoint, ledger);
      return agent;
    },
    close: () => agent.close(),
  };
}
