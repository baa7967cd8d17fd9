/**
 * What every gateway check is made of: its context (the policy, the gateway's endpoint, the agent
 * session the checks share, the ledger of every call they made), its result (pass with notes, fail
 * with what the gateway did instead, skip with why), and what the policy and the upstream say about
 * a tool. The checks themselves live in policy-checks.ts, http-checks.ts and limit-checks.ts.
 */
import { type CompiledPolicy, isCallable } from '@bastion/gateway';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  type CallClass,
  type CallLedger,
  describeCall,
  type GatewayAgent,
  type GatewayEndpoint,
} from './agent.js';
import { minimalArguments } from './arguments.js';

export type GatewayCheckKind =
  | 'hidden'
  | 'deny-default'
  | 'deny-action'
  | 'allowed'
  | 'batch'
  | 'headers'
  | 'restart'
  | 'names'
  | 'limit-burst'
  | 'limit-retry'
  | 'limit-window';

export interface GatewayCheckContext {
  policy: CompiledPolicy;
  endpoint: GatewayEndpoint;
  ledger: CallLedger;
  /** The agent session the checks share. */
  agent(): GatewayAgent;
  /** Closes the shared session and opens a new one. */
  replaceAgent(): Promise<GatewayAgent>;
  /** The upstream's own tools, listed directly; undefined when the upstream cannot be reached. */
  upstreamTools: ReadonlyArray<Tool> | undefined;
  /** Kills the upstream and starts it again on the same port; undefined when not ours to restart. */
  restartUpstream: (() => Promise<void>) | undefined;
  /**
   * The longest limit window the whole-window check watches from end to end (ms). Longer windows
   * (an hour, a day) cannot be watched in a test run: that check skips them with the reason.
   */
  maxObservedWindowMs: number;
  /**
   * The policy is one of the harness's own: a window too long to watch is then the harness's
   * mistake, and fails instead of skipping.
   */
  ownPolicy: boolean;
}

/** A minute: POLICY.md's own policies count per minute, and a minute can be watched whole. */
export const DEFAULT_MAX_OBSERVED_WINDOW_MS = 60_000;

export type CheckResult =
  | { status: 'pass'; notes: string[] }
  | { status: 'fail'; message: string }
  | { status: 'skip'; reason: string };

export interface GatewayCheck {
  /** Stable and unique within one policy, e.g. `limit-burst /tools/mqttDisconnect/limits/0`. */
  key: string;
  kind: GatewayCheckKind;
  title: string;
  run(ctx: GatewayCheckContext): Promise<CheckResult>;
}

class CheckFailed extends Error {}
class CheckSkipped extends Error {}

export function fail(message: string): never {
  throw new CheckFailed(message);
}
export function skip(reason: string): never {
  throw new CheckSkipped(reason);
}

export function check(
  kind: GatewayCheckKind,
  key: string,
  title: string,
  body: (ctx: GatewayCheckContext, notes: string[]) => Promise<void>,
): GatewayCheck {
  return {
    key: `${kind} ${key}`,
    kind,
    title,
    async run(ctx) {
      const notes: string[] = [];
      try {
        await body(ctx, notes);
        return { status: 'pass', notes };
      } catch (err) {
        if (err instanceof CheckSkipped) return { status: 'skip', reason: err.message };
        if (err instanceof CheckFailed) return { status: 'fail', message: err.message };
        return { status: 'fail', message: `the check could not run: ${(err as Error).message}` };
      }
    },
  };
}

// --- what the policy and the upstream say ----------------------------------------------------

/** A name no upstream offers, for the default-deny check. */
export const MADE_UP_TOOL = 'bastionContractNoSuchTool';

/** A tool's schema, from the upstream when known, else from the gateway's listing. */
async function schemaOf(
  ctx: GatewayCheckContext,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  const upstream = ctx.upstreamTools?.find((t) => t.name === name);
  if (upstream !== undefined) return upstream.inputSchema as Record<string, unknown>;
  const listed = (await ctx.agent().listTools()).find((t) => t.name === name);
  return listed?.inputSchema as Record<string, unknown> | undefined;
}

export async function argsFor(ctx: GatewayCheckContext, name: string): Promise<Record<string, unknown>> {
  return minimalArguments(await schemaOf(ctx, name));
}

/** The names the checks may call: the upstream's tools, or (upstream unknown) the gateway's listing. */
export async function knownToolNames(ctx: GatewayCheckContext): Promise<string[]> {
  if (ctx.upstreamTools !== undefined) return ctx.upstreamTools.map((t) => t.name);
  return (await ctx.agent().listTools()).map((t) => t.name);
}

export function offeredByUpstream(ctx: GatewayCheckContext, name: string): boolean | undefined {
  return ctx.upstreamTools === undefined ? undefined : ctx.upstreamTools.some((t) => t.name === name);
}

export function hasConditions(policy: CompiledPolicy, name: string): boolean {
  const rule = policy.rules.get(name);
  return rule !== undefined && (rule.require.length > 0 || rule.denyIf.length > 0);
}

export function expectDenied(call: CallClass, what: string): void {
  if (call.kind === 'denied') return;
  if (call.kind === 'error') {
    fail(`${what}: expected an isError result beginning [POLICY DENIED], got ${describeCall(call)}`);
  }
  fail(`${what}: expected a policy denial, but it was ${describeCall(call)}`);
}

/** A tool the checks can call expecting it to be admitted: callable, no conditions, offered. */
export async function admittableTools(ctx: GatewayCheckContext): Promise<string[]> {
  const names = new Set([...ctx.policy.rules.keys(), ...(await knownToolNames(ctx))]);
  return [...names].filter(
    (n) => isCallable(ctx.policy, n) && !hasConditions(ctx.policy, n) && offeredByUpstream(ctx, n) !== false,
  );
}

/** Tools the policy denies whatever the arguments: hidden, action deny, unlisted under default deny. */
export async function deniedTools(ctx: GatewayCheckContext): Promise<string[]> {
  const { policy } = ctx;
  const known = await knownToolNames(ctx);
  return [
    ...new Set([
      ...policy.hidden,
      ...[...policy.rules.entries()].filter(([, r]) => r.action === 'deny').map(([n]) => n),
      ...(policy.default === 'deny' ? known.filter((n) => !policy.rules.has(n)) : []),
      ...(policy.hideAll ? known : []),
      ...(policy.default === 'deny' ? [MADE_UP_TOOL] : []),
    ]),
  ].filter((n) => !isCallable(policy, n));
}
