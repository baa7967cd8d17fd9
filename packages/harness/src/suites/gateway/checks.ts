/**
 * Checks of a gateway against the policy it claims to enforce, derived from the policy file alone
 * (so they can be listed before anything runs) and run against the gateway with the upstream it
 * fronts, through HTTP only, so they hold for any gateway. Each check verifies one requirement; a
 * failure says exactly what the gateway did instead.
 *
 *   hidden        each hidden tool is absent from tools/list and denied
 *   deny-default  under default deny, every tool the policy does not list is denied
 *   deny-action   a tool with action "deny" is denied
 *   allowed       a tool the policy allows is listed and admitted
 *   batch         a JSON-RPC batch cannot carry a denied call past the policy, even behind an allowed one
 *   headers       Mcp-Method/Mcp-Name headers naming an allowed tool do not carry a denied body through
 *   restart       the agent's session survives an upstream restart (when the harness runs the upstream)
 *   names         case variants and Unicode look-alikes of a listed or hidden name are denied
 *   limit-burst   max N per window, exactly, under 4N calls at once (limit-checks.ts)
 *   limit-retry   the denial over a limit carries retryAfterMs
 *   limit-window  no call beyond the limit anywhere in a window, watched from end to end
 *
 * Order matters: the restart check ends with a fresh agent session; the name variants run while
 * quota is left (a gateway that folds names would otherwise hide behind a limit's denial); the limit
 * checks come last and account for every call the checks before them made (the ledger).
 */
import type { CompiledPolicy } from '@bastion/gateway';
import type { CheckResult, GatewayCheck, GatewayCheckContext, GatewayCheckKind } from './check-kit.js';
import { batchCheck, headersCheck } from './http-checks.js';
import { limitChecks } from './limit-checks.js';
import {
  allowedChecks,
  denyActionChecks,
  denyDefaultCheck,
  hiddenChecks,
  namesChecks,
  restartCheck,
} from './policy-checks.js';

export {
  type CheckResult,
  DEFAULT_MAX_OBSERVED_WINDOW_MS,
  type GatewayCheck,
  type GatewayCheckContext,
  type GatewayCheckKind,
  MADE_UP_TOOL,
} from './check-kit.js';
export { applicableLimits } from './quota.js';

export const CHECK_ORDER: ReadonlyArray<GatewayCheckKind> = [
  'hidden',
  'deny-default',
  'deny-action',
  'allowed',
  'batch',
  'headers',
  'restart',
  'names',
  'limit-burst',
  'limit-retry',
  'limit-window',
];

/** Every check the policy implies, in the order they must run. */
export function deriveGatewayChecks(policy: CompiledPolicy): GatewayCheck[] {
  const byKind: Record<GatewayCheckKind, GatewayCheck[]> = {
    hidden: hiddenChecks(policy),
    'deny-default': denyDefaultCheck(policy),
    'deny-action': denyActionChecks(policy),
    allowed: allowedChecks(policy),
    batch: batchCheck(),
    headers: headersCheck(),
    restart: restartCheck(policy),
    names: namesChecks(policy),
    'limit-burst': limitChecks(policy, 'limit-burst'),
    'limit-retry': limitChecks(policy, 'limit-retry'),
    'limit-window': limitChecks(policy, 'limit-window'),
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
