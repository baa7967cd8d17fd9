/** Named connections, MCP sessions and what they own, against real brokers. */

import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterEach, expect, it } from 'vitest';
import { startFaultProxy } from '../src/faults/tcp-proxy.js';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs, eventually, type ReadResult, sessionPool } from './mqtt-helpers.js';

describeEachTier('MQTT connections and sessions', mqttBrokerProviders, (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.connections.named'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(t, 'mqtt', { connection: 'plant' }));
    await s.ok('mqttConnect', connectArgs(t, 'password', { connection: 'office' }));
    await s.ok('mqttSubscribe', { topic: 'named/plant/#', qos: 1, connection: 'plant' });
    await s.ok('mqttSubscribe', { topic: 'named/office/#', qos: 1, connection: 'office' });
    await s.ok('mqttPublish', { topic: 'named/plant/1', payload: 'p', qos: 1, connection: 'office' });
    await s.ok('mqttPublish', { topic: 'named/office/1', payload: 'o', qos: 1, connection: 'plant' });
    const plant = await s.ok<ReadResult>('mqttReadMessages', { connection: 'plant', waitMs: 10_000 });
    const office = await s.ok<ReadResult>('mqttReadMessages', { connection: 'office', waitMs: 10_000 });
    expect(plant.messages).toMatchObject([{ connection: 'plant', topic: 'named/plant/1' }]);
    expect(office.messages).toMatchObject([{ connection: 'office', topic: 'named/office/1' }]);
    const status = await s.ok<{
      connections: Array<{ name: string; subscriptions: Array<{ topic: string }> }>;
    }>('mqttStatus');
    expect(status.connections.map((c) => [c.name, c.subscriptions.map((x) => x.topic)])).toEqual([
      ['plant', ['named/plant/#']],
      ['office', ['named/office/#']],
    ]);
    await s.ok('mqttDisconnect', { connection: 'plant' });
    const after = await s.ok<{ connections: Array<{ name: string }> }>('mqttStatus');
    expect(after.connections.map((c) => c.name)).toEqual(['office']);
  });

  it(verifies('mqtt.sessions.isolated'), async () => {
    const t = ctx.target();
    const a = await pool.open();
    const b = await pool.open();
    await a.ok('mqttConnect', connectArgs(t, 'mqtt', { connection: 'mine' }));
    await a.ok('mqttSubscribe', { topic: 'iso/#', qos: 1, connection: 'mine' });
    expect(await b.ok('mqttStatus')).toEqual({ connections: [] });
    for (const [tool, args] of [
      ['mqttPublish', { topic: 'iso/x', payload: 'x', connection: 'mine' }],
      ['mqttSubscribe', { topic: 'iso/#', connection: 'mine' }],
      ['mqttReadMessages', { connection: 'mine' }],
    ] as const) {
      const result = await b.call(tool, args);
      expect(errorDataOf(result), tool).toMatchObject({ code: 'UNKNOWN_CONNECTION', connections: [] });
    }
    // B disconnecting "mine" touches nothing of A's.
    expect(await b.ok('mqttDisconnect', { connection: 'mine' })).toEqual({
      connection: 'mine',
      wasConnected: false,
    });
    await a.ok('mqttPublish', { topic: 'iso/still', payload: 'here', qos: 1, connection: 'mine' });
    const read = await a.ok<ReadResult>('mqttReadMessages', { connection: 'mine', waitMs: 10_000 });
    expect(read.messages).toMatchObject([{ topic: 'iso/still' }]);
  });

  it(verifies('mqtt.sessions.close-releases'), async () => {
    const t = ctx.target();
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    try {
      const s = await pool.open();
      await s.ok('mqttConnect', {
        host: proxy.host,
        port: proxy.port,
        clientId: 'owned-1',
        connection: 'one',
      });
      await s.ok('mqttConnect', {
        host: proxy.host,
        port: proxy.port,
        clientId: 'owned-2',
        connection: 'two',
      });
      expect(proxy.connectionCount()).toBe(2);
      await pool.closeAll();
      await eventually(
        () => (proxy.connectionCount() === 0 ? true : undefined),
        'both broker connections closed',
      );
    } finally {
      await proxy.close();
    }
  });

  it(verifies('mqtt.will'), async () => {
    const t = ctx.target();
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    try {
      const watcher = await pool.open();
      await watcher.ok('mqttConnect', connectArgs(t));
      await watcher.ok('mqttSubscribe', { topic: 'will/#', qos: 1 });
      const dying = await pool.open();
      await dying.ok('mqttConnect', {
        host: proxy.host,
        port: proxy.port,
        clientId: 'with-will',
        will: { topic: 'will/with-will', payload: 'gone', qos: 1, retain: false },
      });
      // The network drops the connection without a DISCONNECT: the broker must publish the will.
      proxy.cut();
      const read = await watcher.ok<ReadResult>('mqttReadMessages', { waitMs: 20_000 });
      expect(read.messages).toMatchObject([{ topic: 'will/with-will', payload: 'gone' }]);
    } finally {
      await pool.closeAll();
      await proxy.close();
    }
  });
});
