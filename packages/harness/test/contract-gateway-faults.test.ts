/**
 * The gateway checks find real faults: run against a small gateway that is correct, and against the
 * same gateway with one deliberate fault each (over-admits, forgets to hide, lets a case variant
 * through, loses the session on an upstream restart), each fault is reported by the check meant
 * for it, and by no unrelated one.
 */
import { type CompiledPolicy, parsePolicy } from '@bastion/gateway';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CheckReport, deriveGatewayChecks, runGatewayChecks } from '../src/suites/gateway/checks.js';
import { CONTRACT_MQTT_POLICY } from '../src/suites/gateway/policies.js';
import { type CheckSession, listUpstreamTools, openCheckSession } from '../src/suites/gateway/target.js';
import { type RunningService, startOwnMqttServer } from '../src/suites/own-targets.js';
import { type NaiveFault, type NaiveGateway, startNaiveGateway } from './contract-fixtures/naive-gateway.js';

const TOKEN = 'naive-gateway-test-token';

let upstream: RunningService;
let upstreamTools: Tool[];
let policy: CompiledPolicy;
let gateway: NaiveGateway | undefined;
let session: CheckSession | undefined;

beforeAll(async () => {
  upstream = await startOwnMqttServer();
  upstreamTools = await listUpstreamTools(`${upstream.baseUrl}/mcp`);
  const parsed = parsePolicy(CONTRACT_MQTT_POLICY);
  if (!parsed.ok) throw new Error('the contract policy does not parse');
  policy = parsed.policy;
}, 60_000);
afterAll(async () => {
  await upstream?.stop();
});
afterEach(async () => {
  await session?.close();
  await gateway?.close();
  session = undefined;
  gateway = undefined;
});

async function checkGateway(fault: NaiveFault): Promise<CheckReport[]> {
  gateway = await startNaiveGateway({
    upstreamUrl: `${upstream.baseUrl}/mcp`,
    policy: CONTRACT_MQTT_POLICY,
    token: TOKEN,
    fault,
  });
  session = await openCheckSession({
    endpoint: { url: gateway.url, transport: 'streamable', token: TOKEN },
    policy,
    upstreamTools,
    restartUpstream: () => upstream.process.restart('SIGKILL'),
  });
  return runGatewayChecks(deriveGatewayChecks(policy), session);
}

const failed = (reports: CheckReport[]) =>
  reports.filter((r) => r.result.status === 'fail').map((r) => r.check.key);
const messageOf = (reports: CheckReport[], key: string) => {
  const result = reports.find((r) => r.check.key === key)?.result;
  return result?.status === 'fail' ? result.message : '';
};

describe('the gateway checks against deliberately broken gateways', () => {
  it('pass a gateway that enforces the policy, skipping nothing', async () => {
    const reports = await checkGateway('none');
    expect(reports.filter((r) => r.result.status !== 'pass').map((r) => [r.check.key, r.result])).toEqual([]);
    expect(reports.map((r) => r.check.kind)).toEqual(
      expect.arrayContaining([
        'hidden',
        'deny-default',
        'deny-action',
        'allowed',
        'batch',
        'restart',
        'limit',
        'names',
      ]),
    );
  }, 120_000);

  it('report a gateway that admits one call too many per window', async () => {
    const reports = await checkGateway('over-admit');
    expect(failed(reports)).toEqual(['limit /tools/mqttDisconnect/limits/0', 'limit /all_tools/limits/0']);
    // One more than was left, whatever the checks before used of the window.
    for (const [key, tool] of [
      ['limit /tools/mqttDisconnect/limits/0', 'mqttDisconnect'],
      ['limit /all_tools/limits/0', 'mqttStatus'],
    ] as const) {
      const match = /^admitted (\d+) calls to '(\w+)' where (\d+) were left/.exec(messageOf(reports, key));
      expect(match?.[2], key).toBe(tool);
      expect(Number(match?.[1]), key).toBe(Number(match?.[3]) + 1);
    }
  }, 120_000);

  it('report a gateway that lists a hidden tool', async () => {
    const reports = await checkGateway('no-hide');
    expect(failed(reports)).toEqual(['hidden mqttPublish']);
    expect(messageOf(reports, 'hidden mqttPublish')).toBe(
      "'mqttPublish' is hidden but appears in tools/list",
    );
  }, 120_000);

  it('report a gateway that lets a case variant of an allowed tool through', async () => {
    const reports = await checkGateway('case-variant');
    const names = failed(reports);
    // Allowed tools' variants get through while their quota lasts (the name checks run before the
    // limits); the gateway also counts them against the tool's limit, which the limit check sees.
    expect(names).toEqual(expect.arrayContaining(['names mqttStatus', 'names mqttDisconnect']));
    expect(names.filter((n) => !n.startsWith('names ') && !n.startsWith('limit '))).toEqual([]);
    expect(messageOf(reports, 'names mqttStatus')).toMatch(/^"MQTTSTATUS" \(upper case\) was admitted/);
    // Look-alike letters are not folded by this fault, so they are denied.
    expect(messageOf(reports, 'names mqttStatus')).not.toMatch(/look-alike/);
  }, 120_000);

  it('report a gateway that loses the agent session when the upstream restarts', async () => {
    const reports = await checkGateway('session-loss');
    expect(failed(reports)).toEqual(['restart upstream']);
    expect(messageOf(reports, 'restart upstream')).toMatch(
      /^after the upstream restarted, 'mqttStatus' in the same agent session was a JSON-RPC error/,
    );
  }, 120_000);
});
