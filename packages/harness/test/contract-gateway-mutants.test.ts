/**
 * Mutation tests of the gateway checks (issue 14, item 16): the checks `bastion test --suite gateway
 * --gateway-url` runs, pointed at deliberately broken gateways. Each mutant is a small proxy in front
 * of the real bastion-gateway (its bin, in front of bastion-mqtt) that introduces one fault
 * (contract-fixtures/mutant-proxy.ts); every one must be failed by the check meant for its fault.
 * The same proxy without a fault is the control: every check passes, none skips. The closing lines
 * show caught/total.
 *
 * Every case gets its own upstream (the restart check kills it), served by one bastion-gateway
 * process as a server of its own (counters are per server); five cases run at a time. The policy's
 * windows are two seconds long, so a whole window is watched in two.
 */
import { type CompiledPolicy, parsePolicy } from '@bastion/gateway';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { type CheckReport, deriveGatewayChecks, runGatewayChecks } from '../src/suites/gateway/checks.js';
import { MUTATION_POLICY } from '../src/suites/gateway/policies.js';
import { listUpstreamTools, openCheckSession } from '../src/suites/gateway/target.js';
import {
  type RunningGateway,
  type RunningService,
  startOwnGateway,
  startOwnMqttServer,
} from '../src/suites/own-targets.js';
import { MUTANTS, type Mutant, startMutantProxy } from './contract-fixtures/mutant-proxy.js';

const WINDOW_MS = 2_000;
const parsed = parsePolicy(MUTATION_POLICY);
if (!parsed.ok) throw new Error('the contract policy does not parse');
const policy: CompiledPolicy = parsed.policy;
for (const limit of [...policy.allToolsLimits, ...[...policy.rules.values()].flatMap((r) => r.limits)]) {
  if (limit.windowMs !== WINDOW_MS) throw new Error(`the mutation policy's windows must be ${WINDOW_MS} ms`);
}

const LIMIT_KINDS: string[] = ['limit-burst', 'limit-retry', 'limit-window'];
/**
 * Mutants that spend quota behind the checks' backs (a folded name counts against the real one, the
 * header's tool is called to decide) unsettle the ledger the limit checks count with.
 */
const QUOTA_MUTANTS = ['folded-names', 'headers-over-body'];

/** Runs at most `n` of the functions given to it at once. */
function slots(n: number) {
  let free = n;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next === undefined) free++;
      else next();
    }
  };
}

const CASES: Mutant[] = ['none', ...(Object.keys(MUTANTS) as Mutant[])];
/** Each case's own upstream (the restart check kills it), served by one gateway as a server of its own. */
const upstreams = new Map<Mutant, RunningService>();
let gateway: RunningGateway | undefined;
let upstreamTools: Tool[] = [];

beforeAll(async () => {
  // A few processes at a time: on a busy two-core machine, ten starting at once time out.
  const starting = slots(3);
  await Promise.all(CASES.map((c) => starting(async () => upstreams.set(c, await startOwnMqttServer()))));
  gateway = await startOwnGateway(
    Object.fromEntries(
      CASES.map((c) => [c, { url: `${upstreams.get(c)?.baseUrl}/mcp`, policy: MUTATION_POLICY }]),
    ),
  );
  upstreamTools = await listUpstreamTools(`${upstreams.get('none')?.baseUrl}/mcp`);
}, 180_000);
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([...upstreams.values()].map((u) => u.stop()));
});

const inSlot = slots(5);

/** The case's proxy in front of its server on the gateway, and every check through it. */
async function checkThrough(mutant: Mutant): Promise<CheckReport[]> {
  const upstream = upstreams.get(mutant);
  if (gateway === undefined || upstream === undefined) throw new Error('the gateway did not start');
  const proxy = await startMutantProxy({
    gatewayUrl: gateway.endpoint(mutant),
    upstreamUrl: `${upstream.baseUrl}/mcp`,
    mutant,
    windowMs: WINDOW_MS,
  });
  try {
    const session = await openCheckSession({
      endpoint: { url: proxy.url, transport: 'streamable', token: gateway.token },
      policy,
      upstreamTools,
      restartUpstream: () => upstream.process.restart('SIGKILL'),
      ownPolicy: true,
    });
    try {
      return await runGatewayChecks(deriveGatewayChecks(policy), session);
    } finally {
      await session.close();
    }
  } finally {
    await proxy.close();
  }
}

const failedOf = (reports: CheckReport[]) => reports.filter((r) => r.result.status === 'fail');
const summary: string[] = [];
const caught = new Set<string>();

describe.concurrent('mutation tests: the gateway checks against broken proxies in front of bastion-gateway', () => {
  it(`${verifies('harness.mutants.control')}: no fault`, async () => {
    const reports = await inSlot(() => checkThrough('none'));
    const notPassed = reports.filter((r) => r.result.status !== 'pass').map((r) => [r.check.key, r.result]);
    summary.unshift(
      `control (no fault): ${reports.length - notPassed.length}/${reports.length} checks passed`,
    );
    expect(notPassed).toEqual([]);
    // Every kind of check had something to do.
    expect(new Set(reports.map((r) => r.check.kind)).size).toBe(11);
  }, 240_000);

  for (const [mutant, { fault, caughtBy }] of Object.entries(MUTANTS)) {
    it(`${verifies('harness.mutants.caught')}: ${mutant} (${fault})`, async () => {
      const reports = await inSlot(() => checkThrough(mutant as Mutant));
      const failed = failedOf(reports);
      const kinds = [...new Set(failed.map((r) => r.check.kind))];
      if (caughtBy.every((k) => kinds.includes(k))) caught.add(mutant);
      summary.push(
        `${caught.has(mutant) ? 'caught' : 'MISSED'} ${mutant}: ${
          failed.length === 0 ? 'no check failed' : failed.map((r) => r.check.key).join(', ')
        }`,
      );
      expect(kinds, `${mutant} must be failed by ${caughtBy.join(' and ')}`).toEqual(
        expect.arrayContaining([...caughtBy]),
      );
      // Nothing unrelated fails: a check failing for the wrong reason would be a false alarm.
      const touchesQuota = caughtBy.some((k) => LIMIT_KINDS.includes(k)) || QUOTA_MUTANTS.includes(mutant);
      const allowed = new Set<string>([...caughtBy, ...(touchesQuota ? LIMIT_KINDS : [])]);
      expect(
        kinds.filter((k) => !allowed.has(k)),
        `${mutant}: checks that failed for another reason`,
      ).toEqual([]);
      // Each failure says what the gateway did.
      for (const r of failed) if (r.result.status === 'fail') expect(r.result.message).not.toBe('');
    }, 240_000);
  }
});

afterAll(() => {
  const total = Object.keys(MUTANTS).length;
  process.stdout.write(
    `\nMutation tests: ${caught.size}/${total} mutants caught\n${summary.map((l) => `  ${l}`).join('\n')}\n`,
  );
});
