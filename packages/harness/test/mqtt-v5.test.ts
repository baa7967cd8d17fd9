/** MQTT 5 through the tools: declared only for brokers that speak it (Aedes does not). */
import { afterEach, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProvidersWith } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs, type ReadResult, sessionPool } from './mqtt-helpers.js';

describeEachTier('MQTT 5', mqttBrokerProvidersWith('mqtt5'), (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.v5.properties'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target(), 'mqtt', { protocolVersion: 5 }));
    await s.ok('mqttSubscribe', { topic: 'v5/props', qos: 1 });
    await s.ok('mqttPublish', {
      topic: 'v5/props',
      payload: '{"temp":21.5}',
      qos: 1,
      properties: {
        userProperties: { site: 'plant-1', tag: ['a', 'b'] },
        contentType: 'application/json',
        correlationData: 'corr-42',
        messageExpiryInterval: 300,
        payloadFormatIndicator: true,
      },
    });
    const read = await s.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 });
    const properties = read.messages[0]?.properties;
    expect(properties).toMatchObject({
      userProperties: { site: 'plant-1', tag: ['a', 'b'] },
      contentType: 'application/json',
      correlationData: 'corr-42',
      correlationDataEncoding: 'utf8',
      payloadFormatIndicator: true,
    });
    // The broker forwards the remaining lifetime, at most what was set [MQTT-3.3.2-6].
    expect(properties?.messageExpiryInterval).toBeGreaterThan(0);
    expect(properties?.messageExpiryInterval).toBeLessThanOrEqual(300);
    // The same data reaches listening clients in the logging notification.
    expect(s.notifications[0]?.data).toMatchObject({ properties: { contentType: 'application/json' } });
  });

  it(verifies('mqtt.v5.request-response'), async () => {
    const t = ctx.target();
    const requester = await pool.open();
    const responder = await pool.open();
    await requester.ok('mqttConnect', connectArgs(t, 'mqtt', { protocolVersion: 5 }));
    await responder.ok('mqttConnect', connectArgs(t, 'password', { protocolVersion: 5 }));
    await responder.ok('mqttSubscribe', { topic: 'rr/request/+', qos: 1 });
    await requester.ok('mqttSubscribe', { topic: 'rr/response/requester-1', qos: 1 });

    // Binary correlation data, as devices often use, travels base64 both ways.
    const correlation = Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]).toString('base64');
    await requester.ok('mqttPublish', {
      topic: 'rr/request/add',
      payload: '{"a":2,"b":3}',
      qos: 1,
      properties: {
        responseTopic: 'rr/response/requester-1',
        correlationData: correlation,
        correlationDataEncoding: 'base64',
      },
    });

    const request = (await responder.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 })).messages[0];
    expect(request?.properties).toMatchObject({
      responseTopic: 'rr/response/requester-1',
      correlationData: correlation,
      correlationDataEncoding: 'base64',
    });
    const { a, b } = JSON.parse(request?.payload ?? '{}') as { a: number; b: number };
    await responder.ok('mqttPublish', {
      topic: request?.properties?.responseTopic,
      payload: JSON.stringify({ sum: a + b }),
      qos: 1,
      properties: {
        correlationData: request?.properties?.correlationData,
        correlationDataEncoding: request?.properties?.correlationDataEncoding,
      },
    });

    const response = (await requester.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 })).messages[0];
    expect(response).toMatchObject({
      topic: 'rr/response/requester-1',
      payload: '{"sum":5}',
      properties: { correlationData: correlation, correlationDataEncoding: 'base64' },
    });
  });
});
