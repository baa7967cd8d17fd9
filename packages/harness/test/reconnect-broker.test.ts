/**
 * The reconnect suite, broker side: the broker killed (SIGKILL) or stopped (SIGTERM) and started
 * again on the same port, and network faults between the MQTT server and the broker through the
 * harness's TCP proxy (reset, silence, half-open), in every tier that can do each. Every wait is
 * for a state to be reached; nothing asserts how long it took.
 */

import { errorDataOf } from '@bastion/mcp-http/kit';
import type { ConnectionStatus } from '@bastion/mqtt-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../src/faults/tcp-proxy.js';
import { verifies } from '../src/requirements/index.js';
import { type McpServerProcess, startMqttServerProcess } from '../src/targets/mcp-process.js';
import {
  type MqttBrokerTarget,
  mqttBrokerProviders,
  mqttBrokerProvidersWith,
} from '../src/targets/mqtt/index.js';
import type { FaultSignal } from '../src/targets/process.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  clientId,
  connectArgs,
  eventually,
  type McpSession,
  openMcpSession,
  type ReadResult,
  textOf,
} from './mqtt-helpers.js';

/** Fast reconnects, so that each scenario reaches its end state soon after the fault is gone. */
const FAST = { reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 1000 };

async function statusOf(s: McpSession, name: string): Promise<ConnectionStatus | undefined> {
  const { connections } = await s.ok<{ connections: ConnectionStatus[] }>('mqttStatus');
  return connections.find((c) => c.name === name);
}

/** Waits until `name` is connected again after at least `after` reconnects. */
function reconnected(s: McpSession, name: string, after = 0): Promise<ConnectionStatus> {
  return eventually(async () => {
    const st = await statusOf(s, name);
    return st?.state === 'connected' && st.reconnects > after ? st : undefined;
  }, `${name} reconnected`);
}

/** Publishes on `from` and expects exactly that message on `to` (whose buffer is emptied first). */
async function flows(s: McpSession, from: string, to: string, topic: string, payload: string): Promise<void> {
  await s.ok('mqttReadMessages', { connection: to });
  await s.ok('mqttPublish', { topic, payload, qos: 1, connection: from });
  const read = await s.ok<ReadResult>('mqttReadMessages', { connection: to, waitMs: 10_000 });
  expect(read.messages).toMatchObject([{ topic, payload }]);
}

describeEachTier('reconnect: broker restarted', mqttBrokerProvidersWith('restart'), (ctx) => {
  let s: McpSession;
  beforeAll(async () => {
    s = await openMcpSession(FAST);
  });
  afterAll(() => s.close());

  async function restartedWith(signal: FaultSignal): Promise<void> {
    const t: MqttBrokerTarget = ctx.target();
    const sub = `sub-${signal}`;
    const pub = `pub-${signal}`;
    await s.ok('mqttConnect', connectArgs(t, 'mqtt', { connection: sub }));
    await s.ok('mqttConnect', connectArgs(t, 'password', { connection: pub }));
    await s.ok('mqttSubscribe', { topic: `rc/${signal}/+`, qos: 1, connection: sub });
    await s.ok('mqttSubscribe', { topic: `rc/${signal}/echo`, qos: 0, connection: pub });
    await flows(s, pub, sub, `rc/${signal}/before`, 'before');

    await t.restart(signal);

    for (const name of [sub, pub]) await reconnected(s, name);
    expect((await statusOf(s, sub))?.subscriptions).toEqual([
      { topic: `rc/${signal}/+`, qos: 1, grantedQos: 1 },
    ]);
    // The new broker knows nothing of the old subscriptions: delivery proves they were restored.
    await flows(s, pub, sub, `rc/${signal}/after`, 'after');
    await flows(s, sub, pub, `rc/${signal}/echo`, 'both ways');
    await s.ok('mqttDisconnect', { connection: sub });
    await s.ok('mqttDisconnect', { connection: pub });
  }

  it(verifies('reconnect.broker.sigkill'), () => restartedWith('SIGKILL'));
  it(verifies('reconnect.broker.sigterm'), () => restartedWith('SIGTERM'));
});

describeEachTier('reconnect: network faults between server and broker', mqttBrokerProviders, (ctx) => {
  let s: McpSession;
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    s = await openMcpSession(FAST);
  });
  afterAll(() => s.close());
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  /** A connection `name` through a fresh proxy, subscribed to `topic`, and one straight to the broker. */
  async function throughProxy(name: string, topic: string, extra: Record<string, unknown> = {}) {
    const t = ctx.target();
    const p = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    proxy = p;
    await s.ok('mqttConnect', {
      ...connectArgs(t, 'mqtt', { connection: name }),
      host: p.host,
      port: p.port,
      ...extra,
    });
    await s.ok('mqttSubscribe', { topic, qos: 1, connection: name });
    await s.ok('mqttConnect', connectArgs(t, 'mqtt', { connection: `${name}-direct` }));
    return p;
  }

  async function done(name: string) {
    await s.ok('mqttDisconnect', { connection: name });
    await s.ok('mqttDisconnect', { connection: `${name}-direct` });
  }

  it(verifies('reconnect.broker.cut'), async () => {
    const p = await throughProxy('cut', 'rc/cut');
    await flows(s, 'cut-direct', 'cut', 'rc/cut', 'before');
    p.cut();
    await reconnected(s, 'cut');
    await flows(s, 'cut-direct', 'cut', 'rc/cut', 'after');
    await done('cut');
  });

  it(verifies('reconnect.broker.silent'), async () => {
    const p = await throughProxy('silent', 'rc/silent', { keepalive: 1, connectTimeoutMs: 1000 });
    p.blackhole(true);
    // Keepalive notices the silence; each reconnect attempt then ends by its timeout and the next
    // one starts: the attempt count keeps growing instead of sticking at a hung first attempt.
    await eventually(async () => {
      const st = await statusOf(s, 'silent');
      return st?.state === 'reconnecting' && st.reconnectAttempts >= 3 ? true : undefined;
    }, 'reconnect attempts timing out one after another');
    expect(
      errorDataOf(await s.call('mqttPublish', { topic: 'rc/silent', payload: 'x', connection: 'silent' })),
    ).toMatchObject({ code: 'NOT_CONNECTED' });
    p.heal();
    await reconnected(s, 'silent');
    await flows(s, 'silent-direct', 'silent', 'rc/silent', 'after the silence');
    await done('silent');
  });

  it(verifies('reconnect.broker.half-open'), async () => {
    const p = await throughProxy('half', 'rc/half', { keepalive: 1 });
    p.closeHalfway();
    await reconnected(s, 'half');
    await flows(s, 'half-direct', 'half', 'rc/half', 'whole again');
    await done('half');
  });
});

/** The MQTT server as a real process over Streamable HTTP: its HTTP answer must not hang either. */
let httpServer: McpServerProcess | undefined;
let httpClient: Client | undefined;
afterAll(async () => {
  await httpClient?.close();
  await httpServer?.stop();
});

async function httpCall(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  if (httpServer === undefined) httpServer = await startMqttServerProcess();
  if (httpClient === undefined) {
    const client = new Client({ name: 'reconnect-suite', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${httpServer.url}/mcp`)));
    httpClient = client;
  }
  return (await httpClient.callTool({ name, arguments: args })) as CallToolResult;
}

describeEachTier('reconnect: connecting to a blackholed broker', mqttBrokerProviders, (ctx) => {
  it(verifies('reconnect.broker.blackhole-timeout'), async () => {
    const t = ctx.target();
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    try {
      proxy.blackhole(true);
      const args = {
        host: proxy.host,
        port: proxy.port,
        clientId: clientId('blackholed'),
        connectTimeoutMs: 500,
      };
      const refused = await httpCall('mqttConnect', { ...args, connection: `bh-${ctx.tier}` });
      expect(refused.isError).toBe(true);
      expect(errorDataOf(refused)).toMatchObject({ code: 'CONNECT_TIMEOUT', timeoutMs: 500 });
      expect(textOf(refused)).toContain('Timed out after 500 ms');
      proxy.heal();
      const through = await httpCall('mqttConnect', { ...args, connection: `bh-${ctx.tier}` });
      expect(through.isError, textOf(through)).toBeFalsy();
      await httpCall('mqttDisconnect', { connection: `bh-${ctx.tier}` });
    } finally {
      await proxy.close();
    }
  });
});
