import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, startAedes, type TestBroker, type TestSession, textOf } from './support.js';

let broker: TestBroker;
let s: TestSession;

beforeAll(async () => {
  broker = await startAedes();
});
afterEach(async () => {
  await s?.close();
});
afterAll(async () => {
  await broker.close();
});

async function connected(options = {}) {
  s = await openSession({ maxPayloadBytes: 16, ...options });
  const result = await s.call('mqttConnect', {
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'validation',
  });
  expect(result.isError).toBeFalsy();
  return s;
}

/**
 * Bad input is a tool error the model can correct (spec 2025-11-25): refused by the schema ("Input
 * validation error") or by the tool with code INVALID_INPUT; never a protocol error, a crash or a
 * broker call.
 */
function expectInvalid(result: Awaited<ReturnType<TestSession['call']>>, pattern: RegExp) {
  expect(result.isError).toBe(true);
  expect(textOf(result)).not.toMatch(/MCP error/);
  if (!textOf(result).startsWith('Input validation error'))
    expect(errorDataOf(result)?.code).toBe('INVALID_INPUT');
  expect(textOf(result)).toMatch(pattern);
}

describe('invalid input', () => {
  it('refuses a QoS other than 0, 1 or 2', async () => {
    await connected();
    expectInvalid(await s.call('mqttSubscribe', { topic: 'a', qos: 3 }), /qos/);
    expectInvalid(
      await s.call('mqttPublish', { topic: 'a', payload: 'x', qos: 1.5 }),
      /QoS must be 0, 1 or 2/,
    );
  });

  it("refuses topic filters that break the '+' and '#' rules", async () => {
    await connected();
    for (const topic of ['a/#/b', 'a/b#', 'a+/b', '', '$share/g']) {
      expectInvalid(await s.call('mqttSubscribe', { topic }), /topic filter/);
    }
    for (const topic of ['a/+', '#', '+/+/x', '$share/group/a/#', 'a//b']) {
      const result = await s.call('mqttSubscribe', { topic });
      expect(result.isError, topic).toBeFalsy();
    }
  });

  it('refuses a publish topic with wildcards', async () => {
    await connected();
    expectInvalid(await s.call('mqttPublish', { topic: 'a/+', payload: 'x' }), /wildcards/);
  });

  it('refuses a payload over the size limit, counting decoded bytes', async () => {
    await connected();
    expectInvalid(
      await s.call('mqttPublish', { topic: 'a', payload: 'x'.repeat(17) }),
      /17 bytes; the limit is 16/,
    );
    const sixteenBytes = Buffer.alloc(16, 1).toString('base64');
    const ok = await s.call('mqttPublish', { topic: 'a', payload: sixteenBytes, payloadEncoding: 'base64' });
    expect(ok.isError).toBeFalsy();
  });

  it('refuses base64 payloads that are not base64', async () => {
    await connected();
    const result = await s.call('mqttPublish', {
      topic: 'a',
      payload: 'not base64!',
      payloadEncoding: 'base64',
    });
    expectInvalid(result, /base64/);
    expect(errorDataOf(result)).toEqual({ code: 'INVALID_INPUT', field: 'payload' });
  });

  it('refuses MQTT 5 properties on an MQTT 3.1.1 connection', async () => {
    await connected();
    const result = await s.call('mqttPublish', {
      topic: 'a',
      payload: 'x',
      properties: { contentType: 'text/plain' },
    });
    expectInvalid(result, /need MQTT 5/);
    expect(errorDataOf(result)).toEqual({ code: 'INVALID_INPUT', field: 'properties' });
  });

  it('refuses TLS material for plain mqtt, a password without user name in 3.1.1, and a waitMs over the maximum', async () => {
    await connected({ maxWaitMs: 1000 });
    expectInvalid(
      await s.call('mqttConnect', {
        host: '127.0.0.1',
        port: 1883,
        clientId: 'x',
        protocol: 'mqtt',
        ca: 'PEM',
      }),
      /apply to protocol 'mqtts' or 'wss'/,
    );
    expectInvalid(await s.call('mqttReadMessages', { waitMs: 1001 }), /at most 1000/);
    expectInvalid(
      await s.call('mqttConnect', { host: '127.0.0.1', port: 1883, clientId: 'x', password: 'p' }),
      /password needs a username/,
    );
  });

  it('answers an unknown connection name with UNKNOWN_CONNECTION naming the open ones', async () => {
    await connected();
    for (const [tool, args] of [
      ['mqttSubscribe', { topic: 'a' }],
      ['mqttPublish', { topic: 'a', payload: 'x' }],
      ['mqttUnsubscribe', { topic: 'a' }],
      ['mqttReadMessages', {}],
      ['mqttStatus', {}],
    ] as const) {
      const result = await s.call(tool, { ...args, connection: 'nope' });
      expect(result.isError, tool).toBe(true);
      expect(errorDataOf(result), tool).toMatchObject({
        code: 'UNKNOWN_CONNECTION',
        connections: ['default'],
      });
      expect(textOf(result)).toContain("No MQTT connection named 'nope' in this session (open: 'default')");
    }
  });

  it('answers a publish before any connect with a clear error telling to connect first', async () => {
    s = await openSession();
    const result = await s.call('mqttPublish', { topic: 'a', payload: 'x' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('call mqttConnect first');
  });
});
