/**
 * Persistent sessions across a broker restart (issue 13, MQTT item 2): with clean: false and QoS 1,
 * what the broker keeps for the connection while it is away - queued, saved at the broker's clean
 * shutdown, loaded when it comes back - reaches the agent once its connection reconnects by itself.
 * A plain mqtt.js subscriber with a persistent session of its own, in the same run, counts what the
 * broker kept.
 */
import { randomBytes } from 'node:crypto';
import { connect, connectAsync, type IClientOptions } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { startFaultProxy } from '../src/faults/tcp-proxy.js';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProvidersWith } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { clientId, eventually, type McpSession, type ReadResult, sessionPool } from './mqtt-helpers.js';

// More than the 1,000 messages the buffer held before issue 13, all arriving at once on reconnect.
const KEPT = 2_000;

async function state(s: McpSession): Promise<Record<string, unknown> | undefined> {
  const { connections } = await s.ok<{ connections: Array<Record<string, unknown>> }>('mqttStatus');
  return connections[0];
}

describeEachTier('MQTT persistent sessions', mqttBrokerProvidersWith('persistence'), (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.persistent.broker-restart'), async () => {
    const t = ctx.target();
    const topic = `persist/${randomBytes(4).toString('hex')}`;
    // The agent reaches the broker through a proxy, so that it can be kept away while the broker
    // queues for it; its own reconnects then bring it back.
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    const plainOptions: IClientOptions = { clientId: clientId('plain'), clean: false, reconnectPeriod: 0 };
    try {
      const s = await pool.open({ reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 1_000 });
      await s.ok('mqttConnect', {
        host: proxy.host,
        port: proxy.port,
        clientId: clientId('agent'),
        clean: false,
        connectTimeoutMs: 1_000,
      });
      await s.ok('mqttSubscribe', { topic: `${topic}/#`, qos: 1 });
      const plainFirst = await connectAsync(t.url, plainOptions);
      await plainFirst.subscribeAsync(`${topic}/#`, { qos: 1 });
      await plainFirst.endAsync();

      // Both away: the agent's link is cut and cannot come back through the blackholed proxy.
      proxy.blackhole(true);
      proxy.cut();
      await eventually(async () => ((await state(s))?.state === 'reconnecting' ? true : undefined), 'away');
      const publisher = await connectAsync(t.url, { clientId: clientId('pub'), reconnectPeriod: 0 });
      await Promise.all(
        Array.from({ length: KEPT }, (_, i) =>
          publisher.publishAsync(`${topic}/${i}`, String(i), { qos: 1 }),
        ),
      );
      await publisher.endAsync();

      // A clean shutdown saves what the broker keeps; it loads it when it comes back.
      await t.restart('SIGTERM');
      proxy.heal();

      const plainGot = new Set<string>();
      const plain = connect(t.url, plainOptions);
      plain.on('error', () => {}); // a failed connect shows as a count that never completes
      plain.on('message', (_topic, payload) => plainGot.add(payload.toString()));
      const agentGot = new Set<string>();
      try {
        await eventually(async () => {
          const read = await s.ok<ReadResult>('mqttReadMessages', { limit: 1000, waitMs: 1_000 });
          for (const m of read.messages) agentGot.add(m.payload);
          return agentGot.size >= KEPT && plainGot.size >= KEPT ? true : undefined;
        }, `${KEPT} kept messages at both`);
      } finally {
        await plain.endAsync(true);
      }
      const expected = Array.from({ length: KEPT }, (_, i) => String(i)).sort();
      expect([...plainGot].sort()).toEqual(expected);
      expect([...agentGot].sort()).toEqual(expected);
      // The session came back as it was: no re-subscribe was needed, and new messages flow too.
      const back = await state(s);
      expect(back).toMatchObject({
        state: 'connected',
        clean: false,
        subscriptions: [{ topic: `${topic}/#`, qos: 1 }],
        buffer: { dropped: 0 },
      });
      await s.ok('mqttPublish', { topic: `${topic}/after`, payload: 'after', qos: 1 });
      const after = await s.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 });
      expect(after.messages.map((m) => m.payload)).toContain('after');
    } finally {
      await proxy.close();
    }
  });
});
