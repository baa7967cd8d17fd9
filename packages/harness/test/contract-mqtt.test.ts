/**
 * The MQTTX tool contract, checked against any MCP server that claims it: the four original tools'
 * names, fields, descriptions and success texts, a subscribe/publish round trip with the message
 * pushed as a notification, a failed connect answered as an isError result, and Bastion's extra
 * tools only where the server lists them.
 *
 * Which server: BASTION_MQTT_SERVER_URL (`bastion test --suite mqtt --server-url URL`), or, unset,
 * our own bastion-mqtt started from its bin, over Streamable HTTP and legacy SSE. Which broker:
 * BASTION_MQTT_BROKER_URL (`--broker`), or the harness's broker in every tier.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { CONTRACT_ENV } from '../src/suites/env.js';
import { type CallOutcome, type McpEndpointSession, openEndpoint, textOf } from '../src/suites/mcp-client.js';
import {
  type EXTENSION_TOOLS,
  externalBroker,
  externalMqttServer,
  ORIGINAL_SERVER_NAME,
  ORIGINAL_TOOLS,
  successText,
  toolContractProblems,
} from '../src/suites/mqtt-contract.js';
import { type RunningService, startOwnMqttServer } from '../src/suites/own-targets.js';
import { waitFor } from '../src/suites/wait.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { freePort } from '../src/targets/process.js';
import { describeEachTier, type Stoppable, type TargetProvider } from '../src/testing/tiers.js';

interface Broker extends Stoppable {
  host: string;
  port: number;
}

const external = externalMqttServer(process.env);
const givenBroker = externalBroker(process.env);

const brokers: ReadonlyArray<TargetProvider<Broker>> =
  givenBroker === undefined
    ? mqttBrokerProviders
    : [
        {
          kind: 'mqtt-broker',
          tier: 'external',
          availability: () => ({ available: true }),
          start: async () => ({ ...givenBroker, stop: async () => undefined }),
        },
      ];

let own: RunningService | undefined;
beforeAll(async () => {
  if (external === undefined) own = await startOwnMqttServer();
}, 60_000);
afterAll(async () => {
  await own?.stop();
});

interface ServerUnderTest {
  label: string;
  url(): string;
  transport: 'auto' | 'streamable' | 'sse';
  token?: string;
}

const ownUrl = (path: string) => () => {
  if (own === undefined) throw new Error('bastion-mqtt is not running');
  return `${own.baseUrl}${path}`;
};

const servers: ServerUnderTest[] =
  external === undefined
    ? [
        { label: 'bastion-mqtt over Streamable HTTP', url: ownUrl('/mcp'), transport: 'streamable' },
        { label: 'bastion-mqtt over legacy SSE', url: ownUrl('/mqttx/sse'), transport: 'sse' },
      ]
    : [
        {
          label: `${CONTRACT_ENV.mqttServerUrl}`,
          url: () => external.url,
          transport: external.transport,
          ...(external.token === undefined ? {} : { token: external.token }),
        },
      ];

let counter = 0;
const uniqueId = (what: string) => `bastion-contract-${what}-${process.pid}-${++counter}`;

/** The text of a successful result, or a failure that says what came back instead. */
function successTextOf(outcome: CallOutcome, call: string): string {
  if (outcome.kind === 'error') throw new Error(`${call} answered with a JSON-RPC error: ${outcome.message}`);
  if (outcome.result.isError) throw new Error(`${call} failed: ${textOf(outcome.result)}`);
  return textOf(outcome.result);
}

for (const server of servers) {
  describeEachTier(`MQTTX tool contract: ${server.label}`, brokers, (ctx) => {
    const sessions: McpEndpointSession[] = [];
    const open = async () => {
      const session = await openEndpoint(server.url(), {
        transport: server.transport,
        ...(server.token === undefined ? {} : { token: server.token }),
      });
      sessions.push(session);
      return session;
    };
    afterEach(async () => {
      await Promise.all(sessions.splice(0).map((s) => s.close()));
    });

    // One requirement per test: against the original MQTTX SSE server, a failure in its pushed
    // notifications once marked four correct success texts as failed. A call a test needs before
    // the one it checks is a precondition: when it fails, the test skips and says so.

    /** The text of a successful call that a test needs before what it checks; skips otherwise. */
    const precondition = (skip: (why: string) => never) => (outcome: CallOutcome, call: string) => {
      try {
        return successTextOf(outcome, call);
      } catch (err) {
        return skip(`precondition: ${(err as Error).message}`);
      }
    };

    /** A session connected to the broker (or a skip, when the connect itself fails). */
    async function connected(skip: (why: string) => never) {
      const s = await open();
      const { host, port } = ctx.target();
      precondition(skip)(
        await s.call('mqttConnect', { host, port, clientId: uniqueId('client') }),
        'mqttConnect',
      );
      return s;
    }

    it(verifies('mqtt.compat.tool-schema'), async () => {
      const tools = await (await open()).listTools();
      const problems = Object.keys(ORIGINAL_TOOLS).flatMap((name) =>
        toolContractProblems(
          name,
          tools.find((t) => t.name === name),
        ),
      );
      expect(problems).toEqual([]);
    });

    it(verifies('mqtt.compat.server-name'), async () => {
      expect((await open()).client.getServerVersion()?.name).toBe(ORIGINAL_SERVER_NAME);
    });

    it(verifies('mqtt.compat.connect-text'), async () => {
      const s = await open();
      const { host, port } = ctx.target();
      const clientId = uniqueId('client');
      expect(successTextOf(await s.call('mqttConnect', { host, port, clientId }), 'mqttConnect')).toBe(
        successText.connect(host, port, clientId),
      );
      await s.call('mqttDisconnect');
    });

    it(verifies('mqtt.compat.subscribe-text'), async ({ skip }) => {
      const s = await connected(skip);
      const filter = `bastion-contract/${uniqueId('subscribe')}/#`;
      // No qos given: the original's default is 0.
      expect(successTextOf(await s.call('mqttSubscribe', { topic: filter }), 'mqttSubscribe')).toBe(
        successText.subscribe(filter, 0),
      );
    });

    it(verifies('mqtt.compat.publish-text'), async ({ skip }) => {
      const s = await connected(skip);
      const topic = `bastion-contract/${uniqueId('publish')}/hello`;
      expect(
        successTextOf(
          await s.call('mqttPublish', { topic, payload: 'hello from the contract', qos: 1, retain: false }),
          'mqttPublish',
        ),
      ).toBe(successText.publish(topic, 1, false));
    });

    it(verifies('mqtt.compat.disconnect-text'), async ({ skip }) => {
      const s = await connected(skip);
      expect(successTextOf(await s.call('mqttDisconnect'), 'mqttDisconnect')).toBe(successText.disconnect());
    });

    it(verifies('mqtt.notify.logging'), async ({ skip }) => {
      const s = await connected(skip);
      const base = `bastion-contract/${uniqueId('notify')}`;
      const topic = `${base}/hello`;
      const ok = precondition(skip);
      ok(await s.call('mqttSubscribe', { topic: `${base}/#` }), 'mqttSubscribe');
      ok(
        await s.call('mqttPublish', { topic, payload: 'hello from the contract', qos: 1, retain: false }),
        'mqttPublish',
      );
      const received = await waitFor(
        () => s.notifications.find((n) => (n.data as { topic?: unknown } | undefined)?.topic === topic),
        `the message on '${topic}' as a notifications/message`,
      );
      expect(received.level).toBe('info');
      // Delivered at the subscription's QoS 0, as a plain (not retained) message.
      expect(received.data).toMatchObject({
        topic,
        payload: 'hello from the contract',
        qos: 0,
        retain: false,
      });
    });

    it(verifies('mqtt.compat.connect-failure'), async () => {
      const s = await open();
      const closedPort = await freePort();
      const failed = await s.call('mqttConnect', {
        host: '127.0.0.1',
        port: closedPort,
        clientId: uniqueId('refused'),
      });
      if (failed.kind === 'error') {
        throw new Error(
          `a refused connect answered with a JSON-RPC error instead of isError: ${failed.message}`,
        );
      }
      expect(failed.result.isError).toBe(true);
      expect(textOf(failed.result)).not.toBe('');
      // The session is still usable: a connect to the real broker succeeds after the failure.
      const { host, port } = ctx.target();
      const clientId = uniqueId('after-failure');
      expect(successTextOf(await s.call('mqttConnect', { host, port, clientId }), 'mqttConnect')).toBe(
        successText.connect(host, port, clientId),
      );
      successTextOf(await s.call('mqttDisconnect'), 'mqttDisconnect');
    });

    /** Opens a session connected to the broker, or skips when the server lacks `tool`. */
    async function withExtension(tool: (typeof EXTENSION_TOOLS)[number], skip: (why: string) => void) {
      const s = await open();
      const tools = await s.listTools();
      if (!tools.some((t) => t.name === tool)) skip(`the server does not list ${tool}`);
      const { host, port } = ctx.target();
      successTextOf(await s.call('mqttConnect', { host, port, clientId: uniqueId(tool) }), 'mqttConnect');
      return s;
    }

    it(verifies('mqtt.unsubscribe'), async ({ skip }) => {
      const s = await withExtension('mqttUnsubscribe', skip);
      const base = `bastion-contract/${uniqueId('unsub')}`;
      successTextOf(await s.call('mqttSubscribe', { topic: `${base}/a`, qos: 1 }), 'mqttSubscribe');
      successTextOf(await s.call('mqttSubscribe', { topic: `${base}/marker`, qos: 1 }), 'mqttSubscribe');
      successTextOf(await s.call('mqttUnsubscribe', { topic: `${base}/a` }), 'mqttUnsubscribe');
      successTextOf(
        await s.call('mqttPublish', { topic: `${base}/a`, payload: 'not for us', qos: 1 }),
        'publish',
      );
      successTextOf(
        await s.call('mqttPublish', { topic: `${base}/marker`, payload: 'marker', qos: 1 }),
        'publish',
      );
      // One publisher, QoS 1, one broker: the marker arrives after anything published before it.
      await waitFor(
        () => s.notifications.find((n) => (n.data as { topic?: unknown })?.topic === `${base}/marker`),
        'the marker message',
      );
      expect(s.notifications.filter((n) => (n.data as { topic?: unknown })?.topic === `${base}/a`)).toEqual(
        [],
      );
    });

    it(verifies('mqtt.read.filter'), async ({ skip }) => {
      const s = await withExtension('mqttReadMessages', skip);
      const base = `bastion-contract/${uniqueId('read')}`;
      successTextOf(await s.call('mqttSubscribe', { topic: `${base}/#`, qos: 1 }), 'mqttSubscribe');
      successTextOf(await s.call('mqttPublish', { topic: `${base}/a/1`, payload: 'a', qos: 1 }), 'publish');
      successTextOf(await s.call('mqttPublish', { topic: `${base}/b/1`, payload: 'b', qos: 1 }), 'publish');
      const read = async (args: Record<string, unknown>) => {
        const outcome = await s.call('mqttReadMessages', args);
        successTextOf(outcome, 'mqttReadMessages');
        const structured = (outcome as { result: { structuredContent?: { messages?: unknown } } }).result
          .structuredContent;
        return (structured?.messages ?? []) as Array<{ topic: string; payload: string }>;
      };
      const onlyA = await read({ topic: `${base}/a/#`, waitMs: 10_000 });
      expect(onlyA.map((m) => m.payload)).toEqual(['a']);
      // What the filter left out is still buffered.
      const rest = await read({ waitMs: 10_000 });
      expect(rest.map((m) => m.payload)).toEqual(['b']);
    });

    it(verifies('mqtt.status'), async ({ skip }) => {
      const s = await withExtension('mqttStatus', skip);
      const topic = `bastion-contract/${uniqueId('status')}`;
      successTextOf(await s.call('mqttSubscribe', { topic, qos: 1 }), 'mqttSubscribe');
      const outcome = await s.call('mqttStatus');
      successTextOf(outcome, 'mqttStatus');
      const status = (outcome as { result: { structuredContent?: unknown } }).result.structuredContent as {
        connections: Array<{ state: string; subscriptions: Array<{ topic: string }> }>;
      };
      expect(status.connections).toHaveLength(1);
      expect(status.connections[0]).toMatchObject({ state: 'connected', subscriptions: [{ topic, qos: 1 }] });
    });
  });
}
