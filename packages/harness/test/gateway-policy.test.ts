/**
 * Policy decisions through the gateway, with real SDK clients in front and the fixture upstream
 * (tools shaped like the MQTT and SSH servers') behind it over Streamable HTTP.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { AGENT_KINDS, type AgentKind } from './gateway-fixtures/agents.js';
import {
  call,
  errorDetails,
  FakeClock,
  type FixtureHttp,
  type GatewayHarness,
  MQTT_POLICY_TEXT,
  policyOf,
  SSH_POLICY_TEXT,
  startFixtureHttp,
  startGateway,
  textOf,
} from './gateway-fixtures/harness.js';

let upstream: FixtureHttp;
let harness: GatewayHarness | undefined;
// 12:00:30 UTC: half a minute into a clock-aligned window.
const T0 = Date.UTC(2025, 0, 1, 12, 0, 30);

beforeAll(async () => {
  upstream = await startFixtureHttp();
});
afterAll(async () => {
  await upstream.stop();
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const http = (policy: unknown) => ({ transport: 'http', url: `${upstream.url}/mcp`, policy });

async function withPolicy(policy: unknown, clock = new FakeClock(T0), extraGrants: string[] = []) {
  const grants: Record<string, { servers: string[] }> = { alice: { servers: ['fx'] } };
  for (const g of extraGrants) grants[g] = { servers: ['fx'] };
  harness = await startGateway({ servers: { fx: http(policy) }, grants }, { clock, agentKind });
  return harness;
}

/** The client the tests below run with: each suite runs once per official client and era. */
let agentKind: AgentKind = 'v1';

const mqttPolicy = JSON.parse(MQTT_POLICY_TEXT);

describe.each(AGENT_KINDS)('with the %s client', (kind) => {
  beforeAll(() => {
    agentKind = kind;
  });

  describe('gateway policy decisions', () => {
    it(verifies('gateway.policy.verbatim', 'gateway.deny.default', 'gateway.deny.shape'), async () => {
      // The policy file holds POLICY.md's text byte for byte.
      const dir = await mkdtemp(join(tmpdir(), 'gw-verbatim-'));
      const file = join(dir, 'mqtt-policy.json');
      await writeFile(file, MQTT_POLICY_TEXT);
      try {
        const h = await withPolicy(file);
        const agent = await h.connect('fx', 'alice');
        expect((await agent.listTools()).tools.map((t) => t.name)).toEqual(['mqttDisconnect']);
        const denied = await call(agent, 'mqttConnect', { host: 'h', port: 1883, clientId: 'c' });
        expect(denied.isError).toBe(true);
        expect(textOf(denied)).toMatch(/^\[POLICY DENIED\] /);
        // The error-result convention: no structuredContent, the decision in _meta["dev.bastion/error"].
        expect(denied.structuredContent).toBeUndefined();
        expect(errorDetails(denied)).toEqual({
          code: 'POLICY_DENIED',
          decision: 'deny',
          rule: '(default deny)',
          reason: "tool 'mqttConnect' is not allowed by the policy (default deny)",
        });
        expect((await call(agent, 'mqttDisconnect')).structuredContent).toEqual({ disconnected: true });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it(verifies('gateway.deny.not-forwarded'), async () => {
      const h = await withPolicy({
        version: '1',
        default: 'deny',
        hide: ['login'],
        tools: { sessionInfo: {} },
      });
      const agent = await h.connect('fx', 'alice');
      await call(agent, 'mqttConnect', { host: 'h', port: 1883, clientId: 'c' });
      await call(agent, 'login', { user: 'u', pin: '1' });
      await call(agent, 'no-such-tool');
      // The upstream counts the calls it ran in this session: only this one.
      expect((await call(agent, 'sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
    });

    it(verifies('gateway.hide.list', 'gateway.deny.action'), async () => {
      const h = await withPolicy({
        version: '1',
        default: 'deny',
        hide: ['executeCommand'],
        tools: {
          mqttDisconnect: {},
          executeCommand: {},
          disconnect: { action: 'deny', reason: 'read-only grant' },
        },
      });
      const agent = await h.connect('fx', 'alice');
      const names = (await agent.listTools()).tools.map((t) => t.name).sort();
      // Hidden, denied by default and denied by action are all left out: only callable tools are listed.
      expect(names).toEqual(['mqttDisconnect']);
      expect(policyOf(await call(agent, 'executeCommand', { connectionId: 'c', command: 'id' }))?.rule).toBe(
        '(hidden)',
      );
      const denied = await call(agent, 'disconnect', { connectionId: 'c' });
      expect(policyOf(denied)).toMatchObject({ rule: '/tools/disconnect/action', reason: 'read-only grant' });
      expect(textOf(denied)).toBe('[POLICY DENIED] read-only grant');
    });

    it(
      verifies('gateway.limit.fixed-window', 'gateway.limit.window-reset', 'gateway.limit.output-schema'),
      async () => {
        const clock = new FakeClock(T0);
        const h = await withPolicy(mqttPolicy, clock);
        const agent = await h.connect('fx', 'alice');
        // Listing makes the SDK client validate results against mqttDisconnect's outputSchema, which
        // the gateway passes on as the upstream declares it: its denials carry no structuredContent.
        const listed = (await agent.listTools()).tools.find((t) => t.name === 'mqttDisconnect');
        expect(listed?.outputSchema).toMatchObject({ type: 'object', properties: { disconnected: {} } });
        expect(listed?.outputSchema).not.toHaveProperty('anyOf');
        for (let i = 1; i <= 60; i++) {
          const ok = await call(agent, 'mqttDisconnect');
          expect(ok.isError).toBeFalsy();
          expect(ok.structuredContent).toEqual({ disconnected: true });
        }
        const denied = await call(agent, 'mqttDisconnect');
        expect(denied.isError).toBe(true);
        expect(denied.structuredContent).toBeUndefined();
        expect(policyOf(denied)).toMatchObject({
          decision: 'deny',
          rule: '/tools/mqttDisconnect/limits/0',
          retryAfterMs: 30_000,
        });
        clock.advance(29_999);
        expect(policyOf(await call(agent, 'mqttDisconnect'))?.retryAfterMs).toBe(1);
        clock.advance(1);
        expect((await call(agent, 'mqttDisconnect')).isError).toBeFalsy();
      },
    );

    it(verifies('gateway.limit.per-grant'), async () => {
      const h = await withPolicy(JSON.parse(SSH_POLICY_TEXT), new FakeClock(T0), ['bob']);
      const alice = await h.connect('fx', 'alice');
      const bob = await h.connect('fx', 'bob');
      const alice2 = await h.connect('fx', 'alice');
      for (let i = 0; i < 15; i++) {
        expect((await call(alice, 'disconnect', { connectionId: `a${i}` })).isError).toBeFalsy();
        expect((await call(alice2, 'disconnect', { connectionId: `b${i}` })).isError).toBeFalsy();
      }
      // Alice's two sessions share her grant's 30; Bob's grant has its own.
      expect(policyOf(await call(alice2, 'disconnect', { connectionId: 'x' }))?.rule).toBe(
        '/tools/disconnect/limits/0',
      );
      expect((await call(bob, 'disconnect', { connectionId: 'y' })).isError).toBeFalsy();
    });

    it(verifies('gateway.limit.exact-under-concurrency'), async () => {
      const h = await withPolicy(mqttPolicy);
      const agents = await Promise.all([h.connect('fx', 'alice'), h.connect('fx', 'alice')]);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call(agents[i % 2] ?? agents[0]!, 'mqttDisconnect')),
      );
      expect(results.filter((r) => !r.isError)).toHaveLength(60);
      expect(results.filter((r) => policyOf(r)?.rule === '/tools/mqttDisconnect/limits/0')).toHaveLength(140);
    });

    it(verifies('gateway.limit.rollback'), async () => {
      const h = await withPolicy({
        version: '1',
        default: 'deny',
        tools: {
          badRequest: { limits: [{ counter: 'shared', window: 'minute', max: 2 }] },
          sessionInfo: { limits: [{ counter: 'shared', window: 'minute', max: 2 }] },
        },
      });
      const agent = await h.connect('fx', 'alice');
      for (let i = 0; i < 5; i++) {
        await expect(agent.callTool({ name: 'badRequest', arguments: {} })).rejects.toThrow(
          /fixture refuses/,
        );
      }
      // Five protocol errors cost nothing: both units are still there.
      expect((await call(agent, 'sessionInfo')).isError).toBeFalsy();
      expect((await call(agent, 'sessionInfo')).isError).toBeFalsy();
      expect(policyOf(await call(agent, 'sessionInfo'))?.rule).toBe('/tools/sessionInfo/limits/0');
    });

    it(
      verifies('gateway.conditions.deny-if', 'gateway.conditions.require', 'gateway.conditions.glob'),
      async () => {
        const h = await withPolicy({
          version: '1',
          default: 'deny',
          tools: {
            mqttPublish: {
              deny_if: [
                { path: 'args.topic', op: 'glob', value: ['$SYS/#', 'site/+/admin/#'], syntax: 'mqtt' },
                { path: 'args.qos', op: 'gt', value: 1 },
              ],
            },
            executeCommand: {
              require: [{ path: 'args.cwd', op: 'glob', value: '/srv/**' }],
              deny_if: [{ path: 'args.command', op: 'regex', value: '\\b(rm|sudo)\\b' }],
              on_deny: 'only harmless commands under /srv',
            },
          },
        });
        const agent = await h.connect('fx', 'alice');
        const sys = await call(agent, 'mqttPublish', { topic: '$SYS/broker/x', payload: 'p' });
        expect(policyOf(sys)?.rule).toBe('/tools/mqttPublish/deny_if/0');
        expect(
          policyOf(await call(agent, 'mqttPublish', { topic: 'site/7/admin/reset', payload: 'p' }))?.rule,
        ).toBe('/tools/mqttPublish/deny_if/0');
        expect(policyOf(await call(agent, 'mqttPublish', { topic: 'a/b', payload: 'p', qos: 2 }))?.rule).toBe(
          '/tools/mqttPublish/deny_if/1',
        );
        expect(
          (await call(agent, 'mqttPublish', { topic: 'site/7/status', payload: 'p', qos: 1 })).isError,
        ).toBeFalsy();
        const outside = await call(agent, 'executeCommand', {
          connectionId: 'c',
          command: 'ls',
          cwd: '/srv/../etc',
        });
        expect(policyOf(outside)).toMatchObject({ rule: '/tools/executeCommand/require/0' });
        expect(textOf(outside)).toBe('[POLICY DENIED] only harmless commands under /srv');
        const rm = await call(agent, 'executeCommand', {
          connectionId: 'c',
          command: 'sudo rm -rf x',
          cwd: '/srv/app',
        });
        expect(policyOf(rm)?.rule).toBe('/tools/executeCommand/deny_if/0');
        expect(
          textOf(await call(agent, 'executeCommand', { connectionId: 'c', command: 'ls', cwd: '/srv/app' })),
        ).toBe('ran ls');
      },
    );

    it(verifies('gateway.policy.args-paths'), async () => {
      const h = await withPolicy({
        version: '1',
        default: 'deny',
        tools: { mqttPublish: { deny_if: [{ path: 'args.topik', op: 'eq', value: 'x' }] } },
      });
      const checks = await h.gateway.checkUpstreams();
      expect(checks[0]?.state).toBe('refused');
      expect(checks[0]?.problems.map((p) => p.message)).toEqual([
        "tool 'mqttPublish' has no argument 'args.topik' in its inputSchema",
      ]);
      if (agentKind === 'v2-2026') {
        // A 2026-era agent opens no session: the refusal comes with its first call.
        const agent = await h.connect('fx', 'alice');
        const refused = await call(agent, 'mqttPublish', { topic: 'x', payload: 'y' });
        expect(policyOf(refused)?.rule).toBe('(policy error)');
        expect(textOf(refused)).toMatch(/not served.*mqttPublish.*args\.topik/s);
      } else await expect(h.connect('fx', 'alice')).rejects.toThrow(/not served.*mqttPublish.*args\.topik/s);
    });
  });

  describe('gateway denials and output schemas', () => {
    it(verifies('gateway.limit.output-schema'), async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gw-schema-'));
      const file = join(dir, 'policy.json');
      await writeFile(file, JSON.stringify({ version: '1', default: 'deny', tools: { sessionInfo: {} } }));
      try {
        harness = await startGateway(
          { servers: { fx: http(file) }, grants: { alice: { servers: ['fx'] } } },
          { agentKind },
        );
        const agent = await harness.connect('fx', 'alice');
        // Listed exactly as the upstream declares it, whatever the policy may do to its calls.
        const listed = (await agent.listTools()).tools[0];
        expect(listed?.outputSchema).toMatchObject({ properties: { calls: {}, pid: {} } });
        expect(listed?.outputSchema).not.toHaveProperty('anyOf');
        // A limit added later: the SDK client, holding the narrow schema, still accepts the denial
        // (callTool validates an error result's structuredContent only when there is one).
        await writeFile(
          file,
          JSON.stringify({
            version: '1',
            default: 'deny',
            tools: { sessionInfo: { limits: [{ counter: 's', window: 'minute', max: 0 }] } },
          }),
        );
        await harness.gateway.reloadPolicies();
        const denied = await call(agent, 'sessionInfo');
        expect(denied.isError).toBe(true);
        expect(denied.structuredContent).toBeUndefined();
        expect(textOf(denied)).toMatch(
          /^\[POLICY DENIED\] rate limit reached: at most 0 call\(s\) per minute/,
        );
        expect(policyOf(denied)?.rule).toBe('/tools/sessionInfo/limits/0');
        // Listed again: still the upstream's own schema.
        expect((await agent.listTools()).tools[0]?.outputSchema).not.toHaveProperty('anyOf');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('gateway policy reload', () => {
    it(verifies('gateway.policy.reload', 'gateway.policy.reload-invalid'), async () => {
      const clock = new FakeClock(T0);
      const dir = await mkdtemp(join(tmpdir(), 'gw-reload-'));
      const file = join(dir, 'policy.json');
      const write = (policy: unknown) => writeFile(file, JSON.stringify(policy));
      const limited = (max: number) => ({
        version: '1',
        default: 'deny',
        tools: { mqttDisconnect: { limits: [{ counter: 'd', window: 'minute', max }] } },
      });
      await write(limited(3));
      harness = await startGateway(
        { servers: { fx: http(file) }, grants: { alice: { servers: ['fx'] } } },
        { clock, agentKind },
      );
      const events: string[] = [];
      harness.gateway.onPolicyEvent((e) => events.push(e.event.kind));
      const agent = await harness.connect('fx', 'alice');
      await call(agent, 'mqttDisconnect');
      await call(agent, 'mqttDisconnect');

      // A valid change applies on its own (file watch) and keeps the two units already used.
      await write({ ...limited(4), tools: { ...limited(4).tools, sessionInfo: {} } });
      await vi.waitFor(() => expect(events).toContain('applied'), { timeout: 5000 });
      expect((await agent.listTools()).tools.map((t) => t.name).sort()).toEqual([
        'mqttDisconnect',
        'sessionInfo',
      ]);
      expect((await call(agent, 'mqttDisconnect')).isError).toBeFalsy();
      expect((await call(agent, 'mqttDisconnect')).isError).toBeFalsy();
      expect(policyOf(await call(agent, 'mqttDisconnect'))?.rule).toBe('/tools/mqttDisconnect/limits/0');

      // An invalid one is rejected and the old policy stays in force.
      await writeFile(file, '{"version":"1","default":"deny","tools":{"mqttDisconnect":{"limitz":[]}}}');
      const [event] = await harness.gateway.reloadPolicies();
      expect(event?.event).toMatchObject({
        kind: 'rejected',
        problems: [{ pointer: '/tools/mqttDisconnect/limitz', message: 'unknown key' }],
      });
      expect(policyOf(await call(agent, 'mqttDisconnect'))?.rule).toBe('/tools/mqttDisconnect/limits/0');
      expect((await call(agent, 'sessionInfo')).isError).toBeFalsy();

      // A reload whose args.* path does not match the upstream's tools is rejected too.
      await write({
        version: '1',
        default: 'deny',
        tools: { mqttPublish: { require: [{ path: 'args.nope', op: 'exists' }] } },
      });
      const [pathEvent] = await harness.gateway.reloadPolicies();
      expect(pathEvent?.event).toMatchObject({
        kind: 'rejected',
        problems: [{ pointer: '/tools/mqttPublish/require/0/path' }],
      });
      expect((await call(agent, 'sessionInfo')).isError).toBeFalsy();
      await rm(dir, { recursive: true, force: true });
    });
  });
});
