/**
 * The checks that need nothing but an agent session: hidden tools, default deny, action deny,
 * allowed tools, name variants, and the session surviving an upstream restart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CompiledPolicy, isHidden } from '@bastion/gateway';
import { textOf } from '../mcp-client.js';
import { type CallClass, describeCall } from './agent.js';
import {
  admittableTools,
  argsFor,
  check,
  expectDenied,
  fail,
  type GatewayCheck,
  type GatewayCheckContext,
  knownToolNames,
  MADE_UP_TOOL,
  offeredByUpstream,
  skip,
} from './check-kit.js';
import { nameVariants } from './names.js';
import { applicableLimits, isShort, remainingFor, untilNextWindow } from './quota.js';

export function hiddenChecks(policy: CompiledPolicy): GatewayCheck[] {
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

export function denyDefaultCheck(policy: CompiledPolicy): GatewayCheck[] {
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

export function denyActionChecks(policy: CompiledPolicy): GatewayCheck[] {
  return [...policy.rules.entries()]
    .filter(([name, rule]) => rule.action === 'deny' && !isHidden(policy, name))
    .map(([name, rule]) =>
      check(
        'deny-action',
        name,
        `'${name}' (action "deny") is denied, with its reason`,
        async (ctx, notes) => {
          // Whether such a tool stays listed is not in the documented format, so it is only noted.
          const listed = (await ctx.agent().listTools()).some((t) => t.name === name);
          notes.push(`'${name}' is ${listed ? '' : 'not '}in tools/list`);
          const call = await ctx.agent().call(name, await argsFor(ctx, name));
          expectDenied(call, `calling '${name}'`);
          // The documented `reason` is what the agent is told (POLICY.md's seed pages).
          if (
            rule.reason !== undefined &&
            call.kind === 'denied' &&
            !textOf(call.result).includes(rule.reason)
          ) {
            fail(`'${name}' was denied without its reason '${rule.reason}': ${describeCall(call)}`);
          }
        },
      ),
    );
}

export function allowedChecks(policy: CompiledPolicy): GatewayCheck[] {
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

export function restartCheck(policy: CompiledPolicy): GatewayCheck[] {
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

export function namesChecks(policy: CompiledPolicy): GatewayCheck[] {
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
          .filter((l) => isShort(l) && remainingFor(ctx, [l], now) < variants.length)
          .map((l) => untilNextWindow(l, now));
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
