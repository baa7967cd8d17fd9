/**
 * Checks of a gateway against the policy it claims to enforce, derived from the policy file alone
 * (so they can be listed before anything runs) and run against the gateway with the upstream it
 * fronts. Each check knows its requirement; a failure says exactly what the gateway did instead.
 *
 *   hidden        each hidden tool is absent from tools/list and denied
 *   deny-default  under default deny, every tool the policy does not list is denied
 *   deny-action   a tool with action "deny" is denied
 *   allowed       a tool the policy allows is listed and admitted
 *   batch         a JSON-RPC batch cannot carry a denied call past the policy
 *   restart       the agent's session survives an upstream restart (when the harness runs the upstream)
 *   names         case variants and Unicode look-alikes of a listed or hidden name are denied
 *   limit         max N per window: exactly the N calls left in the window are admitted, the next is
 *                 denied with retryAfterMs (a tool's own limits first, then all_tools ones)
 *
 * Order matters: the restart check ends with a fresh agent session; the name variants run while
 * quota is left (a gateway that folds names would otherwise hide behind a limit's denial); the limit
 * checks come last and account for every call the checks before them made (the ledger).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CompiledLimit,
  type CompiledPolicy,
  fixedWindowStart,
  isCallable,
  isHidden,
} from '@bastion/gateway';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  type CallClass,
  type CallLedger,
  describeCall,
  type GatewayAgent,
  type GatewayEndpoint,
  isDenial,
} from './agent.js';
import { minimalArguments } from './arguments.js';
import { nameVariants } from './names.js';

export type GatewayCheckKind =
  | 'hidden'
  | 'deny-default'
  | 'deny-action'
  | 'allowed'
  | 'batch'
  | 'restart'
  | 'limit'
  | 'names';

export const CHECK_ORDER: ReadonlyArray<GatewayCheckKind> = [
  'hidden',
  'deny-default',
  'deny-action',
  'allowed',
  'batch',
  'restart',
  'names',
  'limit',
];

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
}

export type CheckResult =
  | { status: 'pass'; notes: string[] }
  | { status: 'fail'; message: string }
  | { status: 'skip'; reason: string };

export interface GatewayCheck {
  /** Stable and unique within one policy, e.g. `limit /tools/mqttDisconnect/limits/0`. */
  key: string;
  kind: GatewayCheckKind;
  title: string;
  run(ctx: GatewayCheckContext): Promise<CheckResult>;
}

class CheckFailed extends Error {}
class CheckSkipped extends Error {}

function fail(message: string): never {
  throw new CheckFailed(message);
}
function skip(reason: string): never {
  throw new CheckSkipped(reason);
}

function check(
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

async function argsFor(ctx: GatewayCheckContext, name: string): Promise<Record<string, unknown>> {
  return minimalArguments(await schemaOf(ctx, name));
}

/** The names the checks may call: the upstream's tools, or (upstream unknown) the gateway's listing. */
async function knownToolNames(ctx: GatewayCheckContext): Promise<string[]> {
  if (ctx.upstreamTools !== undefined) return ctx.upstreamTools.map((t) => t.name);
  return (await ctx.agent().listTools()).map((t) => t.name);
}

function offeredByUpstream(ctx: GatewayCheckContext, name: string): boolean | undefined {
  return ctx.upstreamTools === undefined ? undefined : ctx.upstreamTools.some((t) => t.name === name);
}

function hasConditions(policy: CompiledPolicy, name: string): boolean {
  const rule = policy.rules.get(name);
  return rule !== undefined && (rule.require.length > 0 || rule.denyIf.length > 0);
}

/** The limits a call to `name` is counted against: one per counter, the lowest max (POLICY.md). */
export function applicableLimits(policy: CompiledPolicy, name: string): CompiledLimit[] {
  if (!isCallable(policy, name)) return [];
  const all = [...policy.allToolsLimits, ...(policy.rules.get(name)?.limits ?? [])];
  const byCounter = new Map<string, CompiledLimit>();
  for (const limit of all) {
    const seen = byCounter.get(limit.counter);
    if (seen === undefined || limit.max < seen.max) byCounter.set(limit.counter, limit);
  }
  return [...byCounter.values()];
}

function windowStart(limit: CompiledLimit, now: number): number {
  return limit.sliding ? now - limit.windowMs : fixedWindowStart(now, limit.windowMs);
}

/** Admitted calls that count against `limit` since `from` (fixed windows aligned to the clock). */
function used(ctx: GatewayCheckContext, limit: CompiledLimit, from: number): number {
  const session = ctx.agent().id;
  return ctx.ledger.entries.filter(
    (e) =>
      e.kind === 'admitted' &&
      e.at >= from &&
      (limit.scope !== 'session' || e.session === session) &&
      applicableLimits(ctx.policy, e.tool).some((l) => l.counter === limit.counter),
  ).length;
}

function remainingFor(ctx: GatewayCheckContext, limits: CompiledLimit[], now: number): number {
  return Math.min(...limits.map((l) => l.max - used(ctx, l, windowStart(l, now))));
}

/** Did a window of any of `limits` turn (or a counted call slide out) between t0 and t1? */
function windowMoved(ctx: GatewayCheckContext, limits: CompiledLimit[], t0: number, t1: number): boolean {
  return limits.some((l) => {
    if (!l.sliding) return Math.floor(t0 / l.windowMs) !== Math.floor(t1 / l.windowMs);
    return ctx.ledger.entries.some((e) => e.at > t0 - l.windowMs && e.at <= t1 - l.windowMs);
  });
}

function describeWindow(limit: CompiledLimit): string {
  const named: Record<number, string> = { 1000: 'second', 60000: 'minute', 3600000: 'hour', 86400000: 'day' };
  const w = named[limit.windowMs] ?? `${limit.windowMs / 1000} s`;
  return `${limit.max} per ${limit.sliding ? 'sliding ' : ''}${w} (counter '${limit.counter}', ${limit.pointer})`;
}

function expectDenied(call: CallClass, what: string): void {
  if (call.kind === 'denied') return;
  if (call.kind === 'error') {
    fail(`${what}: expected an isError result beginning [POLICY DENIED], got ${describeCall(call)}`);
  }
  fail(`${what}: expected a policy denial, but it was ${describeCall(call)}`);
}

/** A tool the checks can call expecting it to be admitted: callable, no conditions, offered. */
async function admittableTools(ctx: GatewayCheckContext): Promise<string[]> {
  const names = new Set([...ctx.policy.rules.keys(), ...(await knownToolNames(ctx))]);
  return [...names].filter(
    (n) => isCallable(ctx.policy, n) && !hasConditions(ctx.policy, n) && offeredByUpstream(ctx, n) !== false,
  );
}

// --- the checks -------------------------------------------------------------------------------

function hiddenChecks(policy: CompiledPolicy): GatewayCheck[] {
  const body =
    (names: (ctx: GatewayCheckContext) => Promise<string[]>) => async (ctx: GatewayCheckContext) => {
      const listed = new Set((await ctx.agent().listTools()).map((t) => t.name));
      const problems: string[] = [];
      for (const name of await names(ctx)) {
        if (listed.has(name)) problems.push(`'${name}' is hidden but appears in tools/list`);
        const call = await ctx.agent().call(name, await argsFor(ctx, name));
        if (call.kind !== 'denied') problems.push(`calling hidden '${name}' was ${describeCall(call)}`);
      }
      if (problems.length > 0) fail(problems.join('\n'));
    };
  if (policy.hideAll) {
    return [
      check('hidden', '*', 'hide "*": no tool is listed, and every call is denied', body(knownToolNames)),
    ];
  }
  return [...policy.hidden].map((name) =>
    check(
      'hidden',
      name,
      `hidden '${name}' is absent from tools/list and denied`,
      body(async () => [name]),
    ),
  );
}

function denyDefaultCheck(policy: CompiledPolicy): GatewayCheck[] {
  if (policy.default !== 'deny') return [];
  return [
    check(
      'deny-default',
      'unlisted',
      'every tool the policy does not list is denied with [POLICY DENIED]',
      async (ctx, notes) => {
        const unlisted = (await knownToolNames(ctx)).filter(
          (n) => !policy.rules.has(n) && !isHidden(policy, n),
        );
        if (ctx.upstreamTools === undefined) {
          notes.push('upstream not listed directly: only the tools the gateway lists, and a made-up name');
        }
        const problems: string[] = [];
        for (const name of [...unlisted, MADE_UP_TOOL]) {
          const call = await ctx.agent().call(name, await argsFor(ctx, name));
          if (call.kind !== 'denied')
            problems.push(`'${name}' (not in the policy) was ${describeCall(call)}`);
        }
        notes.push(`denied: ${[...unlisted, MADE_UP_TOOL].join(', ')}`);
        if (problems.length > 0) fail(problems.join('\n'));
      },
    ),
  ];
}

function denyActionChecks(policy: CompiledPolicy): GatewayCheck[] {
  return [...policy.rules.entries()]
    .filter(([name, rule]) => rule.action === 'deny' && !isHidden(policy, name))
    .map(([name]) =>
      check('deny-action', name, `'${name}' (action "deny") is denied`, async (ctx, notes) => {
        // Whether such a tool stays listed is not in the documented format, so it is only noted.
        const listed = (await ctx.agent().listTools()).some((t) => t.name === name);
        notes.push(`'${name}' is ${listed ? '' : 'not '}in tools/list`);
        expectDenied(await ctx.agent().call(name, await argsFor(ctx, name)), `calling '${name}'`);
      }),
    );
}

function allowedChecks(policy: CompiledPolicy): GatewayCheck[] {
  return [...policy.rules.entries()]
    .filter(([name, rule]) => rule.action === 'allow' && !isHidden(policy, name))
    .map(([name, rule]) =>
      check('allowed', name, `'${name}' (allowed) is listed and admitted`, async (ctx) => {
        if (offeredByUpstream(ctx, name) === false) skip(`the upstream offers no tool '${name}'`);
        if (rule.require.length > 0 || rule.denyIf.length > 0) {
          skip(`'${name}' has conditions; which arguments satisfy them is the policy author's to say`);
        }
        const listed = (await ctx.agent().listTools()).some((t) => t.name === name);
        if (!listed && offeredByUpstream(ctx, name) === true)
          fail(`'${name}' is allowed but not in tools/list`);
        const limits = applicableLimits(policy, name);
        if (limits.length > 0 && remainingFor(ctx, limits, Date.now()) < 1) {
          skip(`'${name}' has no quota left in this window (the limit check covers it)`);
        }
        const call = await ctx.agent().call(name, await argsFor(ctx, name));
        if (call.kind === 'denied') fail(`'${name}' is allowed by the policy but was ${describeCall(call)}`);
        if (call.kind === 'error') {
          skip(`the upstream refused the generated arguments for '${name}' (${call.message.slice(0, 120)})`);
        }
      }),
    );
}

/** One raw Streamable HTTP session, to send what an SDK client would not: a JSON-RPC batch. */
async function postBatch(endpoint: GatewayEndpoint, batch: unknown[]) {
  const base: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(endpoint.token === undefined ? {} : { authorization: `Bearer ${endpoint.token}` }),
  };
  // 2025-03-26 is the last protocol version that had batches: the strictest place to try one.
  const init = await fetch(endpoint.url, {
    method: 'POST',
    headers: base,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-03-26',
        capabilities: {},
        clientInfo: { name: 'bastion-gateway-checks', version: '1' },
      },
    }),
  });
  await init.text();
  if (!init.ok) throw new Error(`initialize answered HTTP ${init.status}`);
  const sessionId = init.headers.get('mcp-session-id');
  const headers = {
    ...base,
    ...(sessionId === null ? {} : { 'mcp-session-id': sessionId }),
    'mcp-protocol-version': '2025-03-26',
  };
  try {
    await (
      await fetch(endpoint.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    const res = await fetch(endpoint.url, { method: 'POST', headers, body: JSON.stringify(batch) });
    const text = await res.text();
    type Message = { id?: unknown; result?: unknown; error?: { message?: string } };
    let messages: Message[] = [];
    if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      messages = text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Message);
    } else if (text.trim() !== '') {
      messages = [JSON.parse(text) as Message | Message[]].flat();
    }
    return { status: res.status, messages };
  } finally {
    if (sessionId !== null) {
      await fetch(endpoint.url, { method: 'DELETE', headers }).catch(() => undefined);
    }
  }
}

function batchCheck(policy: CompiledPolicy): GatewayCheck[] {
  return [
    check(
      'batch',
      'denied-in-batch',
      'a JSON-RPC batch cannot carry a denied call past the policy',
      async (ctx) => {
        const known = await knownToolNames(ctx);
        const denied = [
          ...[...policy.hidden],
          ...[...policy.rules.entries()].filter(([, r]) => r.action === 'deny').map(([n]) => n),
          ...(policy.default === 'deny' ? known.filter((n) => !policy.rules.has(n)) : []),
          ...(policy.hideAll ? known : []),
          ...(policy.default === 'deny' ? [MADE_UP_TOOL] : []),
        ];
        if (denied.length === 0) skip('the policy denies no tool');
        if (ctx.endpoint.transport === 'sse' || new URL(ctx.endpoint.url).pathname.endsWith('/sse')) {
          skip('batches are a Streamable HTTP matter; the gateway URL is legacy SSE');
        }
        const names = [...new Set(denied)].slice(0, 3);
        const batch = await Promise.all(
          names.map(async (name, i) => ({
            jsonrpc: '2.0',
            id: i + 1,
            method: 'tools/call',
            params: { name, arguments: await argsFor(ctx, name) },
          })),
        );
        const at = Date.now();
        const { status, messages } = await postBatch(ctx.endpoint, batch);
        if (status >= 400) return; // refused as a whole
        const problems: string[] = [];
        for (const [i, name] of names.entries()) {
          const answer = messages.find((m) => m.id === i + 1);
          if (answer === undefined || answer.error !== undefined) continue; // not answered, or refused
          const result = answer.result as Parameters<typeof isDenial>[0];
          if (!isDenial(result)) {
            ctx.ledger.record({ tool: name, at, session: -1, kind: 'admitted' });
            problems.push(`'${name}' went through inside a batch although the policy denies it`);
          }
        }
        if (problems.length > 0) fail(problems.join('\n'));
      },
    ),
  ];
}

function restartCheck(policy: CompiledPolicy): GatewayCheck[] {
  return [
    check(
      'restart',
      'upstream',
      "the agent's session survives an upstream restart, and calls are admitted again",
      async (ctx, notes) => {
        if (ctx.restartUpstream === undefined) {
          skip('the upstream is not run by the harness (give --upstream-command to check this)');
        }
        const candidates = await admittableTools(ctx);
        const now = Date.now();
        const tool =
          candidates.find((n) => applicableLimits(policy, n).length === 0) ??
          candidates.find((n) => remainingFor(ctx, applicableLimits(policy, n), now) >= 3);
        if (tool === undefined)
          skip('no tool the policy admits (with quota to spare) to call across the restart');
        const agent = ctx.agent();
        const args = await argsFor(ctx, tool);
        try {
          const before = await agent.call(tool, args);
          if (before.kind !== 'admitted')
            skip(`'${tool}' is not admitted even before the restart: ${describeCall(before)}`);
          await ctx.restartUpstream?.();
          const deadline = Date.now() + 10_000;
          let after: CallClass;
          for (;;) {
            after = await agent.call(tool, args);
            const same =
              after.kind === 'admitted' && Boolean(after.result.isError) === Boolean(before.result.isError);
            if (same) break;
            if (Date.now() > deadline) {
              fail(
                `after the upstream restarted, '${tool}' in the same agent session was ${describeCall(after)}`,
              );
            }
            await sleep(200);
          }
          await agent.listTools();
          notes.push(`'${tool}' admitted before and after the upstream restart in one agent session`);
        } finally {
          // The checks after this one start from a fresh session, whatever happened to this one.
          await ctx.replaceAgent();
        }
      },
    ),
  ];
}

const MAX_CALLS_TO_EXHAUST = 300;
const SHORT_WINDOW_MS = 10_000;

function limitChecks(policy: CompiledPolicy): GatewayCheck[] {
  const targets: Array<{ limit: CompiledLimit; tool: string | undefined }> = [];
  // A tool's own limits first: checking an all_tools limit uses up what every other call needs.
  for (const [name, rule] of policy.rules)
    for (const limit of rule.limits) targets.push({ limit, tool: name });
  for (const limit of policy.allToolsLimits) targets.push({ limit, tool: undefined });
  return targets.map(({ limit, tool: named }) =>
    check(
      'limit',
      limit.pointer,
      `${named === undefined ? 'every tool' : `'${named}'`}: at most ${describeWindow(limit)}, then denied with retryAfterMs`,
      async (ctx, notes) => {
        let tool = named;
        if (tool === undefined) {
          const candidates = await admittableTools(ctx);
          tool =
            candidates.find((n) => policy.rules.get(n)?.limits.length === 0) ??
            candidates.find((n) => !policy.rules.has(n)) ??
            candidates[0];
          if (tool === undefined) skip('no tool the policy admits to count against this limit');
        }
        if (!isCallable(policy, tool)) skip(`'${tool}' is never admitted, so its limit never applies`);
        if (hasConditions(policy, tool))
          skip(`'${tool}' has conditions; the generated arguments may not meet them`);
        if (offeredByUpstream(ctx, tool) === false) skip(`the upstream offers no tool '${tool}'`);
        const limits = applicableLimits(policy, tool);
        const args = await argsFor(ctx, tool);
        // The limit under test, as counted (limits sharing its counter share one unit, lowest max).
        const own = limits.find((l) => l.counter === limit.counter) ?? limit;
        const others = limits.filter((l) => l !== own);
        const short = (l: CompiledLimit) => !l.sliding && l.windowMs <= SHORT_WINDOW_MS;
        const untilNextWindow = (l: CompiledLimit, now: number) =>
          Math.floor(now / l.windowMs + 1) * l.windowMs - now + 30;
        for (let attempt = 1; attempt <= 3; attempt++) {
          let now = Date.now();
          // Start at the top of a fresh window and send the calls together, so they share it; and let
          // a short window of another limit on the same call turn if it would deny first.
          const waits = [
            ...(short(own) ? [untilNextWindow(own, now)] : []),
            ...others
              .filter((o) => short(o) && remainingFor(ctx, [o], now) <= remainingFor(ctx, [own], now) + 1)
              .map((o) => untilNextWindow(o, now)),
          ];
          if (waits.length > 0) await sleep(Math.max(...waits));
          const t0 = Date.now();
          now = t0;
          const remaining = Math.max(0, remainingFor(ctx, [own], t0));
          const binding = others.find((o) => remainingFor(ctx, [o], t0) <= remaining);
          if (binding !== undefined) {
            skip(`another limit on '${tool}' would deny first: ${describeWindow(binding)}`);
          }
          if (remaining > MAX_CALLS_TO_EXHAUST) {
            skip(
              `${remaining} calls left in the window; more than this check makes (${MAX_CALLS_TO_EXHAUST})`,
            );
          }
          const calls: CallClass[] = [];
          if (short(own)) {
            calls.push(
              ...(await Promise.all(
                Array.from({ length: remaining + 1 }, () => ctx.agent().call(tool, args)),
              )),
            );
          } else {
            for (let i = 0; i <= remaining; i++) {
              const call = await ctx.agent().call(tool, args);
              calls.push(call);
              if (call.kind !== 'admitted') break;
            }
          }
          const t1 = Date.now();
          // Only the limit under test turning spoils the count. The others had more left at t0 than
          // this check sends (else it skipped above), and a window turning only gives back quota,
          // so they cannot deny any of these calls however their windows move.
          if (windowMoved(ctx, [own], t0, t1)) continue;
          const refused = calls.find((c) => c.kind === 'error');
          if (refused !== undefined) {
            skip(`the upstream refused the generated arguments for '${tool}': ${describeCall(refused)}`);
          }
          const admitted = calls.filter((c) => c.kind === 'admitted').length;
          const context = `${describeWindow(limit)}; ${remaining} of it left when the check began`;
          if (admitted > remaining)
            fail(`admitted ${admitted} calls to '${tool}' where ${remaining} were left: ${context}`);
          if (admitted < remaining) {
            const first = calls.find((c) => c.kind !== 'admitted');
            fail(
              `denied '${tool}' after ${admitted} calls where ${remaining} were left: ${context}; ` +
                `the denial: ${first === undefined ? '(none)' : describeCall(first)}`,
            );
          }
          const denial = calls.find((c) => c.kind === 'denied');
          if (denial === undefined || denial.kind !== 'denied') {
            fail(`the call over the limit was not denied: ${context}`);
            return;
          }
          if (denial.retryAfterMs === undefined)
            fail(`the denial over the limit carries no retryAfterMs: ${context}`);
          notes.push(`${remaining} admitted, the next denied with retryAfterMs ${denial.retryAfterMs}`);
          return;
        }
        skip('the window kept turning while the check ran; run it again');
      },
    ),
  );
}

function namesChecks(policy: CompiledPolicy): GatewayCheck[] {
  const names = [...new Set([...policy.rules.keys(), ...policy.hidden])];
  return names.map((name) =>
    check(
      'names',
      name,
      `case variants and look-alikes of '${name}' are other names, and denied`,
      async (ctx) => {
        const real = new Set([...(await knownToolNames(ctx)), ...policy.rules.keys(), ...policy.hidden]);
        const args = await argsFor(ctx, name);
        const variants = nameVariants(name).filter((v) => !real.has(v.name));
        // A gateway that takes a variant for the name would count it against the name's limits: let
        // short windows turn first, so such a variant is admitted (and seen) rather than rate-limited.
        const now = Date.now();
        const waits = applicableLimits(policy, name)
          .filter((l) => !l.sliding && l.windowMs <= SHORT_WINDOW_MS)
          .filter((l) => remainingFor(ctx, [l], now) < variants.length)
          .map((l) => Math.floor(now / l.windowMs + 1) * l.windowMs - now + 30);
        if (waits.length > 0) await sleep(Math.max(...waits));
        const problems: string[] = [];
        for (const variant of variants) {
          const call = await ctx.agent().call(variant.name, args);
          if (call.kind !== 'denied') {
            problems.push(`${JSON.stringify(variant.name)} (${variant.kind}) was ${describeCall(call)}`);
          }
        }
        if (problems.length > 0) fail(problems.join('\n'));
      },
    ),
  );
}

/** Every check the policy implies, in the order they must run. */
export function deriveGatewayChecks(policy: CompiledPolicy): GatewayCheck[] {
  const byKind: Record<GatewayCheckKind, GatewayCheck[]> = {
    hidden: hiddenChecks(policy),
    'deny-default': denyDefaultCheck(policy),
    'deny-action': denyActionChecks(policy),
    allowed: allowedChecks(policy),
    batch: batchCheck(policy),
    restart: restartCheck(policy),
    limit: limitChecks(policy),
    names: namesChecks(policy),
  };
  return CHECK_ORDER.flatMap((kind) => byKind[kind]);
}

export interface CheckReport {
  check: GatewayCheck;
  result: CheckResult;
}

/** Runs checks in order (outside a test runner, e.g. to see that a broken gateway is caught). */
export async function runGatewayChecks(
  checks: ReadonlyArray<GatewayCheck>,
  ctx: GatewayCheckContext,
): Promise<CheckReport[]> {
  const reports: CheckReport[] = [];
  for (const c of checks) reports.push({ check: c, result: await c.run(ctx) });
  return reports;
}
