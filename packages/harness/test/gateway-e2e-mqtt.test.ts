/**
 * End to end: agents -> bastion-gateway -> the real bastion-mqtt (over stdio, and over HTTP) -> a real
 * broker in each tier, under POLICY.md's MQTT policy verbatim. One grant ("operator") has a policy of
 * its own that lets it connect and publish, to show conditions, secrets and the audit log on real calls.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyAuditLog } from '@bastion/gateway';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { BASTION_BINS, type McpServerProcess, startMqttServerProcess } from '../src/targets/mcp-process.js';
import { type MqttBrokerTarget, mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { AGENT_KINDS } from './gateway-fixtures/agents.js';
import {
  call,
  FakeClock,
  type GatewayHarness,
  MQTT_POLICY_TEXT,
  policyOf,
  reconnects,
  startGateway,
  textOf,
} from './gateway-fixtures/harness.js';
import { pidsWithEnv } from './gateway-fixtures/processes.js';

// Half a minute into a clock-aligned minute; each test starts a minute later.
const T0 = Date.UTC(2025, 0, 1, 12, 0, 30);

const OPERATOR_POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    mqttConnect: { deny_if: [{ path: 'args.host', op: 'not_in', value: ['127.0.0.1', 'localhost'] }] },
    mqttPublish: {
      deny_if: [{ path: 'args.topic', op: 'glob', value: ['$SYS/#', 'plant/+/admin/#'], syntax: 'mqtt' }],
      on_deny: 'system and admin topics are off limits',
    },
    mqttDisconnect: {},
  },
};

/** Subscriptions that could receive `<anything>/secret/...` are denied; everything else is allowed. */
const SECRET = { path: 'args.topic', op: 'glob', value: '+/secret/#', syntax: 'mqtt' } as const;
const WATCHER_POLICY = {
  version: '1',
  default: 'deny',
  tools: { mqttConnect: {}, mqttDisconnect: {}, mqttSubscribe: { deny_if: [SECRET] } },
};
/** Subscribes to anything, but may read (and so be pushed) only what is not secret. */
const READER_POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    mqttConnect: {},
    mqttDisconnect: {},
    mqttSubscribe: {},
    mqttPublish: {},
    mqttReadMessages: { deny_if: [SECRET] },
  },
};

describeEachTier('gateway in front of bastion-mqtt', mqttBrokerProviders, (ctx) => {
  // Every transport of the server, with every official client (v1, and v2 in both eras).
  for (const [kind, agentKind] of (['stdio', 'http'] as const).flatMap((k) =>
    AGENT_KINDS.map((a) => [k, a] as const),
  )) {
    describe(`bastion-mqtt over ${kind}, ${agentKind} client`, { timeout: 90_000 }, () => {
      const marker = randomUUID();
      const clock = new FakeClock(T0);
      let server: McpServerProcess | undefined;
      let h: GatewayHarness;
      let broker: MqttBrokerTarget;

      beforeAll(async () => {
        broker = ctx.target();
        const upstream =
          kind === 'stdio'
            ? {
                transport: 'stdio',
                command: process.execPath,
                args: [BASTION_BINS.mqtt, '--transport', 'stdio', '--log-level', 'warn'],
                env: { BASTION_E2E_MARKER: marker },
              }
            : await (async () => {
                server = await startMqttServerProcess();
                return { transport: 'http', url: `${server.url}/mcp` };
              })();
        h = await startGateway(
          {
            servers: { mqtt: { ...upstream, policy: './mqtt-policy.json' } },
            grants: {
              alice: { servers: ['mqtt'] },
              bob: { servers: ['mqtt'] },
              operator: { servers: ['mqtt'], policy: { mqtt: OPERATOR_POLICY } },
              watcher: { servers: ['mqtt'], policy: { mqtt: WATCHER_POLICY } },
              reader: { servers: ['mqtt'], policy: { mqtt: READER_POLICY } },
            },
            audit: true,
            // POLICY.md's text, byte for byte, as a policy file next to the config.
            files: { 'mqtt-policy.json': MQTT_POLICY_TEXT },
          },
          { clock, agentKind },
        );
        const checks = await h.gateway.checkUpstreams();
        expect(checks).toEqual([{ server: 'mqtt', state: 'ok', problems: [] }]);
      });
      afterAll(async () => {
        await h?.close();
        await server?.stop();
      });
      beforeEach(() => {
        clock.advance(60_000);
      });
      afterEach(async () => {
        await h.closeClients();
      });

      it(verifies('gateway.e2e.mqtt', 'gateway.deny.default', 'gateway.hide.list'), async () => {
        const alice = await h.connect('mqtt', 'alice');
        expect((await alice.listTools()).tools.map((t) => t.name)).toEqual(['mqttDisconnect']);
        const denied = await call(alice, 'mqttConnect', {
          host: broker.host,
          port: broker.port,
          clientId: 'a',
        });
        expect(policyOf(denied)).toMatchObject({ decision: 'deny', rule: '(default deny)' });
        expect(
          policyOf(await call(alice, 'MqttConnect', { host: broker.host, port: broker.port, clientId: 'a' }))
            ?.rule,
        ).toBe('(default deny)');
        expect(textOf(await call(alice, 'mqttDisconnect'))).toBe(
          'Successfully disconnected from MQTT broker',
        );
      });

      it(
        verifies(
          'gateway.e2e.mqtt',
          'gateway.limit.fixed-window',
          'gateway.limit.per-grant',
          'gateway.limit.window-reset',
        ),
        async () => {
          const alice = await h.connect('mqtt', 'alice');
          const bob = await h.connect('mqtt', 'bob');
          for (let i = 0; i < 60; i++) expect((await call(alice, 'mqttDisconnect')).isError).toBeFalsy();
          const over = await call(alice, 'mqttDisconnect');
          expect(policyOf(over)).toMatchObject({
            rule: '/tools/mqttDisconnect/limits/0',
            retryAfterMs: 30_000,
          });
          expect((await call(bob, 'mqttDisconnect')).isError).toBeFalsy();
          clock.advance(30_000);
          expect((await call(alice, 'mqttDisconnect')).isError).toBeFalsy();
        },
      );

      it(verifies('gateway.e2e.mqtt', 'gateway.limit.exact-under-concurrency'), async () => {
        const agents = await Promise.all([h.connect('mqtt', 'alice'), h.connect('mqtt', 'alice')]);
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => call(agents[i % 2] ?? agents[0]!, 'mqttDisconnect')),
        );
        expect(results.filter((r) => !r.isError)).toHaveLength(60);
        expect(results.filter((r) => policyOf(r)?.retryAfterMs !== undefined)).toHaveLength(140);
      });

      it(
        verifies(
          'gateway.e2e.mqtt',
          'gateway.conditions.deny-if',
          'gateway.audit.secrets',
          'gateway.audit.chain',
        ),
        async () => {
          const operator = await h.connect('mqtt', 'operator');
          const { host, port } = broker.listeners.password;
          const { username, password } = broker.credentials;
          const connected = await call(operator, 'mqttConnect', {
            host,
            port,
            clientId: `op-${kind}`,
            username,
            password,
          });
          expect(textOf(connected)).toBe(
            `Successfully connected to MQTT broker at ${host}:${port} with client ID op-${kind}`,
          );
          expect(
            policyOf(await call(operator, 'mqttConnect', { host: 'broker.example', port, clientId: 'x' }))
              ?.rule,
          ).toBe('/tools/mqttConnect/deny_if/0');
          const sys = await call(operator, 'mqttPublish', { topic: '$SYS/broker/clients', payload: 'x' });
          expect(textOf(sys)).toBe('[POLICY DENIED] system and admin topics are off limits');
          expect(
            policyOf(await call(operator, 'mqttPublish', { topic: 'plant/7/admin/reset', payload: 'x' }))
              ?.rule,
          ).toBe('/tools/mqttPublish/deny_if/0');
          const ok = await call(operator, 'mqttPublish', { topic: 'plant/7/temp', payload: '21.5' });
          expect(textOf(ok)).toMatch(/^Successfully published message to MQTT topic 'plant\/7\/temp'/);
          await call(operator, 'mqttDisconnect');

          const file = join(h.dir, 'audit.jsonl');
          await vi.waitFor(async () => expect(await readFile(file, 'utf8')).toContain('plant/7/temp'));
          const text = await readFile(file, 'utf8');
          expect(text).not.toContain(password);
          expect(text).toContain('"password":"[REDACTED]"');
          expect(await verifyAuditLog(file)).toMatchObject({ ok: true });
          // A copy with one decision changed is caught at that row.
          const lines = text.trim().split('\n');
          const at = lines.findIndex((l) => l.includes('"/tools/mqttPublish/deny_if/0"'));
          lines[at] = (lines[at] ?? '').replace('"decision":"deny"', '"decision":"allow"');
          const tampered = join(h.dir, 'tampered.jsonl');
          await writeFile(tampered, `${lines.join('\n')}\n`);
          expect(await verifyAuditLog(tampered)).toMatchObject({ ok: false, line: at + 1 });
        },
      );

      /** Connects `agent` to the broker's password listener as `clientId`. */
      async function connectBroker(agent: Awaited<ReturnType<GatewayHarness['connect']>>, clientId: string) {
        const { host, port } = broker.listeners.password;
        const { username, password } = broker.credentials;
        const connected = await call(agent, 'mqttConnect', { host, port, clientId, username, password });
        expect(connected.isError, textOf(connected)).toBeFalsy();
      }

      it(verifies('gateway.conditions.mqtt-filters'), async () => {
        const watcher = await h.connect('mqtt', 'watcher');
        await connectBroker(watcher, `watch-${kind}-${marker.slice(0, 8)}`);
        const base = `gw-e2e-${marker.slice(0, 8)}`;
        // Each of these can receive a topic under some `<x>/secret/`: denied, though none matches the pattern as a string.
        for (const topic of ['#', '+/#', '+/secret/x', `${base}/#`, `${base}/+`, `$share/g/${base}/#`]) {
          expect(policyOf(await call(watcher, 'mqttSubscribe', { topic }))?.rule, topic).toBe(
            '/tools/mqttSubscribe/deny_if/0',
          );
        }
        const allowed = await call(watcher, 'mqttSubscribe', { topic: `${base}/public/#` });
        expect(textOf(allowed)).toBe(`Successfully subscribed to MQTT topic '${base}/public/#' with QoS 0`);
        await call(watcher, 'mqttDisconnect');
      });

      // Pushed notifications are a 2025-era thing: a 2026-era agent is sent nothing unasked.
      const pushedTest = agentKind === 'v2-2026' ? it.skip : it;
      pushedTest(verifies('gateway.notifications.pushed'), async () => {
        const reader = await h.connect('mqtt', 'reader');
        const pushed: string[] = [];
        const onLog = (n: { params: { data?: unknown } }) => {
          const topic = (n.params.data as { topic?: unknown } | undefined)?.topic;
          if (typeof topic === 'string') pushed.push(topic);
        };
        // Each client's own way to take a notification: a zod schema (v1) or the method (v2).
        if (agentKind === 'v1') reader.setNotificationHandler(LoggingMessageNotificationSchema, onLog);
        else
          (reader as unknown as import('@modelcontextprotocol/client').Client).setNotificationHandler(
            'notifications/message',
            onLog,
          );
        await connectBroker(reader, `read-${kind}-${marker.slice(0, 8)}`);
        const base = `gw-e2e-${marker.slice(0, 8)}-${kind}`;
        // Subscribed to everything under base: bastion-mqtt receives the secret messages too.
        expect((await call(reader, 'mqttSubscribe', { topic: `${base}/#`, qos: 1 })).isError).toBeFalsy();
        for (const topic of [
          `${base}/secret/key`,
          `${base}/public/a`,
          `${base}/secret/b/c`,
          `${base}/public/z`,
        ]) {
          expect((await call(reader, 'mqttPublish', { topic, payload: 'p', qos: 1 })).isError).toBeFalsy();
        }
        // One publisher, one QoS: the broker delivers in order, so the last public message comes last.
        await vi.waitFor(() => expect(pushed).toContain(`${base}/public/z`), { timeout: 20_000 });
        expect(pushed).toEqual([`${base}/public/a`, `${base}/public/z`]);
        // Reading them is decided the same way.
        expect(policyOf(await call(reader, 'mqttReadMessages', { topic: `${base}/secret/#` }))?.rule).toBe(
          '/tools/mqttReadMessages/deny_if/0',
        );
        await call(reader, 'mqttDisconnect');
      });

      it(
        verifies('gateway.e2e.mqtt', 'gateway.reconnect.http-restart', 'gateway.reconnect.stdio-exit'),
        async () => {
          const alice = await h.connect('mqtt', 'alice');
          expect((await call(alice, 'mqttDisconnect')).isError).toBeFalsy();
          const before = await reconnects(h, 'mqtt');
          if (kind === 'http') {
            await server?.kill('SIGKILL');
            await server?.start();
          } else {
            const pids = await pidsWithEnv('BASTION_E2E_MARKER', marker);
            expect(pids.length).toBeGreaterThan(0);
            for (const pid of pids) process.kill(pid, 'SIGKILL');
          }
          // A 2026-era agent in front of a 2026-era HTTP server has no upstream connection to
          // re-establish (each request stands alone): only its next call tells the restart apart.
          if (!(kind === 'http' && agentKind === 'v2-2026'))
            await vi.waitFor(async () => expect(await reconnects(h, 'mqtt')).toBeGreaterThan(before), {
              timeout: 20_000,
            });
          // The agent's session went on; its calls reach a fresh bastion-mqtt session.
          expect(textOf(await call(alice, 'mqttDisconnect'))).toBe(
            'Successfully disconnected from MQTT broker',
          );
        },
      );
    });
  }
});
