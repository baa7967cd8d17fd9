/** TLS, mutual TLS and WebSocket transports: declared only for brokers that offer them. */

import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterEach, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProvidersWith } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs, type ReadResult, sessionPool, textOf } from './mqtt-helpers.js';

describeEachTier('MQTT over TLS', mqttBrokerProvidersWith('tls'), (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.tls.server'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const args = connectArgs(t, 'mqtts', { clientId: 'tls-client' });
    const result = await s.call('mqttConnect', args);
    expect(textOf(result)).toBe(
      `Successfully connected to MQTT broker at ${args.host}:${args.port} with client ID tls-client`,
    );
    expect(result.structuredContent).toMatchObject({ protocol: 'mqtts' });
    await s.ok('mqttSubscribe', { topic: 'tls/t', qos: 1 });
    await s.ok('mqttPublish', { topic: 'tls/t', payload: 'secure', qos: 1 });
    const read = await s.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 });
    expect(read.messages).toMatchObject([{ payload: 'secure' }]);
  });

  it(verifies('mqtt.tls.mutual'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const withoutCert = await s.call(
      'mqttConnect',
      connectArgs(t, 'mqtts', { port: t.listeners.mutualTls?.port }),
    );
    expect(withoutCert.isError).toBe(true);
    expect(errorDataOf(withoutCert)).toMatchObject({ code: 'TLS_FAILED' });
    const result = await s.call('mqttConnect', connectArgs(t, 'mutualTls'));
    expect(result.isError).toBeFalsy();
  });

  it(verifies('mqtt.secrets.never-echoed'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const result = await s.call('mqttConnect', connectArgs(t, 'mutualTls'));
    const everything = JSON.stringify([result, await s.call('mqttStatus')]);
    expect(everything).not.toContain('PRIVATE KEY');
    expect(everything).not.toContain((t.tls?.clientKey ?? '').split('\n')[1]);
  });
});

describeEachTier('MQTT over WebSocket', mqttBrokerProvidersWith('ws'), (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.ws'), async () => {
    const t = ctx.target();
    const wsSession = await pool.open();
    const wssSession = await pool.open();
    await wsSession.ok('mqttConnect', connectArgs(t, 'ws'));
    const wss = await wssSession.call('mqttConnect', connectArgs(t, 'wss'));
    expect(wss.structuredContent).toMatchObject({ protocol: 'wss' });
    await wssSession.ok('mqttSubscribe', { topic: 'ws/t', qos: 1 });
    await wsSession.ok('mqttPublish', { topic: 'ws/t', payload: 'over websockets', qos: 1 });
    const read = await wssSession.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 });
    expect(read.messages).toMatchObject([{ topic: 'ws/t', payload: 'over websockets' }]);
  });
});
