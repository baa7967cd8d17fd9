/**
 * The reconnect storm of issue 14: leftover MCP sessions connected with one MQTT client id took the
 * connection from each other every 0.5 s, forever, because the backoff started over after every
 * reconnect that succeeded. Now the backoff starts over only after a link stayed up, and a takeover
 * ends the reconnects and is told to the agent.
 */
import { errorDataOf } from '@bastion/mcp-http/kit';
import type { ConnectionStatus } from '@bastion/mqtt-server';
import { afterEach, expect, it } from 'vitest';
import { startFaultProxy } from '../src/faults/tcp-proxy.js';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  clientId,
  connectArgs,
  eventually,
  type McpSession,
  type ReadResult,
  sessionPool,
  textOf,
} from './mqtt-helpers.js';

async function statusOf(s: McpSession, name = 'default'): Promise<ConnectionStatus> {
  const { connections } = await s.ok<{ connections: ConnectionStatus[] }>('mqttStatus');
  const found = connections.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no connection '${name}'`);
  return found;
}

/** Publishes on `s` and reads it back: the connection is up and its subscription delivers. */
async function roundTrip(s: McpSession, topic: string): Promise<void> {
  await s.ok('mqttPublish', { topic, payload: 'still here', qos: 1 });
  const read = await s.ok<ReadResult>('mqttReadMessages', { topic, waitMs: 10_000 });
  expect(read.messages).toMatchObject([{ topic, payload: 'still here' }]);
}

describeEachTier('MQTT client id taken over', mqttBrokerProviders, (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  async function sharedIdFight(protocolVersion: 4 | 5): Promise<void> {
    const t = ctx.target();
    // Fast reconnects, as in the storm; every link of the fight is shorter than the stable time.
    const options = { reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 400, reconnectStableMs: 5_000 };
    const a = await pool.open(options);
    const b = await pool.open(options);
    const shared = clientId('shared');
    const topic = `takeover/${shared}`;
    await a.ok('mqttConnect', connectArgs(t, 'mqtt', { clientId: shared, protocolVersion }));
    await a.ok('mqttSubscribe', { topic: `${topic}/+`, qos: 1 });
    await a.ok('mqttPublish', { topic: `${topic}/early`, payload: 'buffered before', qos: 1 });
    await eventually(async () => ((await statusOf(a)).buffer.size === 1 ? true : undefined), 'buffered');
    await b.ok('mqttConnect', connectArgs(t, 'mqtt', { clientId: shared, protocolVersion }));

    const [loser, winner] = await eventually(async () => {
      const [sa, sb] = [await statusOf(a), await statusOf(b)];
      if (sa.state === 'taken-over') return [a, b] as const;
      if (sb.state === 'taken-over') return [b, a] as const;
      return undefined;
    }, 'one of the two sessions gives the client id up');

    const lost = await statusOf(loser);
    const evidence =
      protocolVersion === 5 && t.capabilities.takeoverReason
        ? { detectedBy: 'reason-code', reasonCode: 0x8e }
        : { detectedBy: 'repeated-disconnects', shortLinks: 3 };
    expect(lost.takenOver).toMatchObject(evidence);
    expect(loser.notifications).toContainEqual(
      expect.objectContaining({
        level: 'warning',
        data: expect.objectContaining({ event: 'client-id-taken-over', connection: 'default' }),
      }),
    );
    // The next call says so, whatever it is; what was buffered can still be read, then it says so again.
    const first = await loser.call('mqttReadMessages', {});
    expect(first.isError).toBe(true);
    expect(errorDataOf(first)).toMatchObject({
      code: 'CLIENT_ID_TAKEN_OVER',
      connection: 'default',
      clientId: shared,
      ...evidence,
    });
    expect(textOf(first)).toContain(`client ID '${shared}'`);
    if (lost.buffer.size > 0) {
      const kept = await loser.ok<ReadResult>('mqttReadMessages', {});
      expect(kept.messages.length).toBe(lost.buffer.size);
    }
    for (const [tool, args] of [
      ['mqttReadMessages', { waitMs: 2_000 }],
      ['mqttPublish', { topic: `${topic}/x`, payload: 'x', qos: 1 }],
      ['mqttSubscribe', { topic: `${topic}/#` }],
    ] as const) {
      expect(errorDataOf(await loser.call(tool, args)), tool).toMatchObject({
        code: 'CLIENT_ID_TAKEN_OVER',
      });
    }

    // The other keeps the id: it is connected, subscribes and receives, and the loser stays down.
    await eventually(
      async () => ((await statusOf(winner)).state === 'connected' ? true : undefined),
      'the other session connected',
    );
    await winner.ok('mqttSubscribe', { topic: `${topic}/+`, qos: 1 });
    await roundTrip(winner, `${topic}/winner`);
    expect(await statusOf(loser)).toMatchObject({ state: 'taken-over', reconnects: lost.reconnects });
    expect((await statusOf(winner)).state).toBe('connected');
    // mqttConnect again, with an id of its own, and the loser is back.
    await loser.ok('mqttConnect', connectArgs(t, 'mqtt', { clientId: clientId('own'), protocolVersion }));
    await loser.ok('mqttSubscribe', { topic: `${topic}/+`, qos: 1 });
    await roundTrip(loser, `${topic}/loser`);
  }

  it(verifies('mqtt.takeover.shared-id'), () => sharedIdFight(4));
  ctx.itWith('mqtt5')(`${verifies('mqtt.takeover.shared-id')} (MQTT 5)`, () => sharedIdFight(5));

  ctx.itWith('mqtt5', 'takeoverReason')(verifies('mqtt.takeover.reason-code'), async () => {
    const t = ctx.target();
    const a = await pool.open({ reconnectInitialDelayMs: 50 });
    const b = await pool.open({ reconnectInitialDelayMs: 50 });
    const shared = clientId('shared5');
    await a.ok('mqttConnect', connectArgs(t, 'mqtt', { clientId: shared, protocolVersion: 5 }));
    await b.ok('mqttConnect', connectArgs(t, 'mqtt', { clientId: shared, protocolVersion: 5 }));
    const lost = await eventually(async () => {
      const st = await statusOf(a);
      return st.state === 'taken-over' ? st : undefined;
    }, 'the first session taken over');
    // Recognised from the reason code at once: not one reconnect was tried.
    expect(lost).toMatchObject({
      takenOver: { detectedBy: 'reason-code', reasonCode: 0x8e },
      reconnects: 0,
      backoffAttempt: 0,
    });
    const next = await a.call('mqttPublish', { topic: 'takeover5/x', payload: 'x' });
    expect(errorDataOf(next)).toMatchObject({ code: 'CLIENT_ID_TAKEN_OVER', reasonCode: 0x8e });
    expect(textOf(next)).toContain('0x8E');
    await b.ok('mqttSubscribe', { topic: 'takeover5/+', qos: 1 });
    await roundTrip(b, 'takeover5/b');
    expect((await statusOf(a)).state).toBe('taken-over');
  });

  it(verifies('mqtt.reconnect.backoff-stable'), async () => {
    const t = ctx.target();
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    try {
      const connect = { host: proxy.host, port: proxy.port };
      // Links lost before they are stable: the backoff keeps its count across the reconnects.
      const s = await pool.open({ reconnectInitialDelayMs: 20, reconnectStableMs: 120_000 });
      await s.ok('mqttConnect', { ...connect, clientId: clientId('flaky') });
      for (const cut of [1, 2]) {
        proxy.cut();
        const back = await eventually(async () => {
          const st = await statusOf(s);
          return st.state === 'connected' && st.reconnects === cut ? st : undefined;
        }, `reconnected after cut ${cut}`);
        expect(back.backoffAttempt).toBe(cut);
      }
      // A link that stays up the stable time starts the backoff over.
      const steady = await pool.open({ reconnectInitialDelayMs: 20, reconnectStableMs: 200 });
      await steady.ok('mqttConnect', { ...connect, clientId: clientId('steady'), connection: 'steady' });
      proxy.cut();
      await eventually(async () => {
        const st = await statusOf(steady, 'steady');
        return st.state === 'connected' && st.reconnects === 1 && st.backoffAttempt === 0 ? true : undefined;
      }, 'backoff back at 0 after a stable link');
    } finally {
      await pool.closeAll();
      await proxy.close();
    }
  });
});
