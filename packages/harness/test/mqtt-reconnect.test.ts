/** A broker killed and restarted on the same port, in every tier. */

import { errorDataOf } from '@bastion/mcp-http/kit';
import type { ConnectionStatus } from '@bastion/mqtt-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProvidersWith } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import {
  connectArgs,
  eventually,
  type McpSession,
  openMcpSession,
  type ReadResult,
  textOf,
} from './mqtt-helpers.js';

describeEachTier('MQTT broker restart', mqttBrokerProvidersWith('restart'), (ctx) => {
  let s: McpSession;
  beforeAll(async () => {
    s = await openMcpSession({ reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 1000 });
  });
  afterAll(() => s.close());

  const status = async (name: string) =>
    (await s.ok<{ connections: ConnectionStatus[] }>('mqttStatus')).connections.find((c) => c.name === name);

  it(
    verifies('mqtt.reconnect.status', 'mqtt.reconnect.publish-fails', 'mqtt.reconnect.restores'),
    async () => {
      const t = ctx.target();
      await s.ok('mqttConnect', connectArgs(t, 'mqtt', { connection: 'anon' }));
      await s.ok('mqttConnect', connectArgs(t, 'password', { connection: 'auth' }));
      await s.ok('mqttSubscribe', { topic: 'restart/+/a', qos: 1, connection: 'anon' });
      await s.ok('mqttSubscribe', { topic: 'restart/#', qos: 2, connection: 'auth' });

      // Killed like a crash; it stays down until the outage has been observed.
      await t.down();
      await eventually(
        async () => ((await status('anon'))?.state === 'reconnecting' ? true : undefined),
        'reconnecting',
      );
      expect((await status('auth'))?.state).toBe('reconnecting');
      const during = await s.call('mqttPublish', {
        topic: 'restart/x/a',
        payload: 'lost',
        qos: 1,
        connection: 'anon',
      });
      expect(errorDataOf(during)).toMatchObject({ code: 'NOT_CONNECTED', state: 'reconnecting' });
      expect(textOf(during)).toContain('Nothing was sent');
      await t.up();

      for (const name of ['anon', 'auth']) {
        const back = await eventually(async () => {
          const st = await status(name);
          return st?.state === 'connected' ? st : undefined;
        }, `${name} connected again`);
        expect(back.reconnects).toBeGreaterThanOrEqual(1);
      }
      expect((await status('anon'))?.subscriptions).toEqual([
        { topic: 'restart/+/a', qos: 1, grantedQos: 1 },
      ]);
      expect((await status('auth'))?.subscriptions).toEqual([{ topic: 'restart/#', qos: 2, grantedQos: 2 }]);

      // The restarted broker has no memory of the subscriptions: delivery proves they were restored.
      await s.ok('mqttReadMessages', { connection: 'anon' });
      await s.ok('mqttReadMessages', { connection: 'auth' });
      await s.ok('mqttPublish', { topic: 'restart/1/a', payload: 'after', qos: 1, connection: 'auth' });
      const anon = await s.ok<ReadResult>('mqttReadMessages', { connection: 'anon', waitMs: 10_000 });
      const auth = await s.ok<ReadResult>('mqttReadMessages', { connection: 'auth', waitMs: 10_000 });
      expect(anon.messages).toMatchObject([{ topic: 'restart/1/a', payload: 'after' }]);
      expect(auth.messages).toMatchObject([{ topic: 'restart/1/a', payload: 'after' }]);
    },
  );

  it(verifies('mqtt.reconnect.publish-fails', 'mqtt.reconnect.restores'), async () => {
    const t = ctx.target();
    await s.ok('mqttConnect', connectArgs(t, 'mqtt', { connection: 'outage' }));
    await t.down();
    try {
      await eventually(
        async () => ((await status('outage'))?.state === 'reconnecting' ? true : undefined),
        'reconnecting',
      );
      for (const qos of [0, 1, 2]) {
        const result = await s.call('mqttPublish', {
          topic: 'outage',
          payload: 'x',
          qos,
          connection: 'outage',
        });
        expect(errorDataOf(result)).toMatchObject({ code: 'NOT_CONNECTED', connection: 'outage' });
      }
      expect((await s.call('mqttStatus')).isError).toBeFalsy();
    } finally {
      await t.up();
    }
    await eventually(
      async () => ((await status('outage'))?.state === 'connected' ? true : undefined),
      'back',
    );
    // And a plain restart (kill, start at once) is survived too.
    const before = (await status('outage'))?.reconnects ?? 0;
    await t.restart();
    await eventually(async () => {
      const st = await status('outage');
      return st?.state === 'connected' && st.reconnects > before ? true : undefined;
    }, 'reconnected after restart()');
    await s.ok('mqttPublish', { topic: 'outage', payload: 'fine', qos: 1, connection: 'outage' });
  });
});
