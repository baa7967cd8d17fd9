/**
 * The policy engine alone, in-process: how many `tools/call` decisions per second the gateway's
 * pipeline makes for a large policy (1000 tools) and many grants (10,000), with an upstream that
 * answers at once, so that nothing but the decision is timed. Built from the gateway's exported API:
 * the config resolver (grants and inline policies), `createCallPipeline` (the same steps, in the same
 * order, as the running gateway) and the in-memory counter store; and, as a second figure, the
 * bearer-token lookup (`indexGrants(...).find`) that every HTTP request pays before its call reaches the pipeline.
 */
import {
  type CallContext,
  type CallTarget,
  createCallPipeline,
  createGrantToken,
  type GatewayConfig,
  type GrantResolution,
  indexGrants,
  MemoryCounterStore,
  type Principal,
  resolveConfig,
} from '@bastion/gateway';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { EngineResult } from './results.js';

export interface EngineBenchOptions {
  tools: number;
  grants: number;
  decisions: number;
  /** Time cap of each of the two timed loops. */
  maxMs: number;
  signal: AbortSignal;
}

const SERVER = 'echo';
/** One grant in a hundred brings its own, smaller policy for the server (a per-grant override). */
const OVERRIDE_EVERY = 100;

function toolName(t: number): string {
  return `tool_${String(t).padStart(4, '0')}`;
}

/**
 * A policy of `tools` tools under default deny, with every kind of rule in fixed proportions:
 * 1 in 20 denied by action, 1 in 20 hidden, 1 in 10 with a `require`, 1 in 10 with a `deny_if`
 * regex, 1 in 5 with its own rate limit, the rest plain allows; plus one limit on all tools.
 */
export function largePolicy(tools: number): Record<string, unknown> {
  const rules: Record<string, unknown> = {};
  const hidden: string[] = [];
  for (let t = 0; t < tools; t++) {
    const name = toolName(t);
    if (t % 20 === 0) rules[name] = { action: 'deny', reason: 'not for agents' };
    else if (t % 20 === 1) hidden.push(name);
    else if (t % 10 === 2) rules[name] = { require: [{ path: 'args.n', op: 'lt', value: 50 }] };
    else if (t % 10 === 3)
      rules[name] = { deny_if: [{ path: 'args.text', op: 'regex', value: '^bench-[0-9]*7$' }] };
    else if (t % 5 === 4) {
      rules[name] = {
        limits: [{ counter: `${name}_rate`, window: 'minute', max: 1_000_000_000, scope: 'grant' }],
      };
    } else rules[name] = {};
  }
  return {
    version: '1',
    default: 'deny',
    hide: hidden,
    all_tools: { limits: [{ counter: 'all_calls', window: 'hour', max: 1_000_000_000, scope: 'grant' }] },
    tools: rules,
  };
}

interface EngineFixture {
  config: GatewayConfig;
  tokens: string[];
  labels: string[];
  toolNames: string[];
}

function buildFixture(options: EngineBenchOptions): EngineFixture {
  const tokens: string[] = [];
  const labels: string[] = [];
  const grants: Record<string, unknown> = {};
  const override = { version: '1', default: 'deny', tools: { [toolName(4)]: {}, [toolName(5)]: {} } };
  for (let g = 0; g < options.grants; g++) {
    const { token, tokenSha256 } = createGrantToken();
    const label = `grant-${g}`;
    tokens.push(token);
    labels.push(label);
    grants[label] = {
      tokenSha256,
      servers: [SERVER],
      ...(g % OVERRIDE_EVERY === OVERRIDE_EVERY - 1 ? { policy: { [SERVER]: override } } : {}),
    };
  }
  const document = {
    servers: {
      [SERVER]: { transport: 'http', url: 'http://127.0.0.1:9/mcp', policy: largePolicy(options.tools) },
    },
    grants,
  };
  const config = resolveConfig(document, { baseDir: process.cwd() });
  const toolNames = Array.from({ length: options.tools }, (_, t) => toolName(t));
  return { config, tokens, labels, toolNames };
}

/** The gateway's grant resolution, from the resolved config: the grant's override, else the server's policy. */
function resolverFor(config: GatewayConfig) {
  const server = config.servers.get(SERVER);
  const serverPolicy = server?.policy?.kind === 'inline' ? server.policy.policy : undefined;
  return (principal: Principal, name: string): GrantResolution | undefined => {
    const grant = config.grants.get(principal.id);
    if (grant === undefined || !grant.servers.has(name)) return undefined;
    const ref = grant.policies.get(name);
    return { grant: grant.label, policy: ref?.kind === 'inline' ? ref.policy : serverPolicy };
  };
}

const ECHOED: CallToolResult = { content: [{ type: 'text', text: 'ok' }] };

/** An upstream that offers every tool of the policy and answers at once. */
function instantTarget(toolNames: readonly string[]): CallTarget {
  const names = new Set(toolNames);
  return {
    hasTool: async (name) => names.has(name),
    knowsTool: (name) => names.has(name),
    inputSchema: () => undefined,
    callTool: async () => ECHOED,
  };
}

export async function runEngineBench(options: EngineBenchOptions): Promise<EngineResult> {
  const base: EngineResult = {
    status: 'ok',
    tools: options.tools,
    grants: options.grants,
    decisions: 0,
  };
  const fixture = buildFixture(options);
  const pipeline = createCallPipeline({
    resolveGrant: resolverFor(fixture.config),
    counters: new MemoryCounterStore(),
    recorders: [],
  });
  const target = instantTarget(fixture.toolNames);
  const signal = new AbortController().signal;
  // 1 call in 50 names a tool the upstream does not have (denied as unknown).
  const contextFor = (i: number, principal: Principal): CallContext => ({
    requestId: i,
    sessionId: 'bench',
    server: SERVER,
    tool:
      i % 50 === 49
        ? `missing_${i % 7}`
        : (fixture.toolNames[(i * 104_729) % fixture.toolNames.length] ?? ''),
    args: { text: `bench-${i}`, n: i % 100 },
    now: Date.now(),
    principal,
    signal,
    target,
  });
  const grantIndex = (i: number) => (i * 7919) % fixture.labels.length;
  const principals: Principal[] = fixture.labels.map((id) => ({ id, kind: 'grant' }));

  let allowed = 0;
  let denied = 0;
  let i = 0;
  const t0 = process.hrtime.bigint();
  const deadline = performance.now() + options.maxMs;
  for (; i < options.decisions && !options.signal.aborted; i++) {
    // Checking the clock costs as much as a decision: every 1024 calls is enough.
    if ((i & 1023) === 0 && performance.now() > deadline) break;
    const principal = principals[grantIndex(i)] as Principal;
    const ctx = contextFor(i, principal);
    await pipeline(ctx);
    if (ctx.decision?.decision === 'allow') allowed++;
    else denied++;
  }
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  options.signal.throwIfAborted();

  // The same decisions, each preceded by the token lookup the HTTP front door does per request.
  let withAuth = 0;
  const a0 = process.hrtime.bigint();
  const authDeadline = performance.now() + options.maxMs;
  const grants = indexGrants(fixture.config.grants.values());
  for (; withAuth < options.decisions && !options.signal.aborted; withAuth++) {
    if ((withAuth & 63) === 0 && performance.now() > authDeadline) break;
    const g = grantIndex(withAuth);
    const grant = grants.find(fixture.tokens[g] ?? '');
    if (grant === undefined) throw new Error(`token of grant ${g} not found`);
    await pipeline(contextFor(withAuth, { id: grant.label, kind: 'grant' }));
  }
  const authNs = Number(process.hrtime.bigint() - a0);
  options.signal.throwIfAborted();

  return {
    ...base,
    decisions: i,
    elapsedMs: Math.round(elapsedNs / 1e4) / 100,
    decisionsPerSecond: Math.round((i * 1e9) / elapsedNs),
    nsPerDecision: Math.round(elapsedNs / Math.max(1, i)),
    withAuthentication: {
      decisions: withAuth,
      decisionsPerSecond: Math.round((withAuth * 1e9) / authNs),
      nsPerDecision: Math.round(authNs / Math.max(1, withAuth)),
    },
    workload:
      `Policy: default deny, ${options.tools} tools (1/20 denied by action, 1/20 hidden, 1/10 require, 1/10 deny_if regex, ` +
      `1/5 with a rate limit, the rest allowed), a limit on all tools; ${options.grants} grants, 1 in ${OVERRIDE_EVERY} with its own policy. ` +
      `Calls spread over grants and tools, 1 in 50 to an unknown tool: ${allowed} allowed, ${denied} denied. ` +
      'Pipeline = resolve grant, hide/deny, known tool, conditions, limits (reserve/commit), forward to an instant upstream; ' +
      'no audit file. "With authentication" adds the bearer-token lookup (findGrant) that each HTTP request makes first.',
  };
}
