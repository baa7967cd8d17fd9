import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../src/index.js';
import { eventually, openSession, startAedes, type TestBroker, type TestSession } from './support.js';

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

interface Read {
  connection: string;
  messages: ReceivedMessage[];
  remaining: number;
  dropped: number;
}

async function read(args: Record<string, unknown> = {}): Promise<Read> {
  const result = await s.call('mqttReadMessages', args);
  expect(result.isError).toBeFalsy();
  return result.structuredContent as unknown as Read;
}

async function connected(options = {}) {
  s = await openSession(options);
  await s.call('mqttConnect', {
    host: '127.0.0.1',
    port: broker.port,
    clientId: `messages-${Math.random()}`,
  });
}

describe('buffered messages', () => {
  it('returns messages oldest first with topic, payload, qos and retain, and removes what it returned', async () => {
    await connected();
    await s.call('mqttSubscribe', { topic: 'buf/#', qos: 1 });
    await s.call('mqttPublish', { topic: 'buf/a', payload: 'one', qos: 1 });
    await s.call('mqttPublish', { topic: 'buf/b', payload: 'two', qos: 0 });
    await eventually(async () => (s.notifications.length >= 2 ? true : undefined), 'two messages');
    const first = await read();
    expect(first.messages.map((m) => [m.topic, m.payload, m.qos, m.retain, m.payloadEncoding])).toEqual([
      ['buf/a', 'one', 1, false, 'utf8'],
      ['buf/b', 'two', 0, false, 'utf8'],
    ]);
    expect(first.messages[0]?.seq).toBeLessThan(first.messages[1]?.seq ?? 0);
    expect((await read()).messages).toEqual([]);
  });

  it('filters by topic filter and limit, leaving the rest for a later read', async () => {
    await connected();
    await s.call('mqttSubscribe', { topic: 'filter/#', qos: 1 });
    for (const topic of ['filter/x/temp', 'filter/y/temp', 'filter/x/hum', 'filter/z/temp']) {
      await s.call('mqttPublish', { topic, payload: topic, qos: 1 });
    }
    await eventually(async () => (s.notifications.length >= 4 ? true : undefined), 'four messages');
    const temps = await read({ topic: 'filter/+/temp', limit: 2 });
    expect(temps.messages.map((m) => m.topic)).toEqual(['filter/x/temp', 'filter/y/temp']);
    expect(temps.remaining).toBe(1);
    const rest = await read();
    expect(rest.messages.map((m) => m.topic)).toEqual(['filter/x/hum', 'filter/z/temp']);
  });

  it('drops the oldest message when the buffer is full, and reports how many were dropped', async () => {
    // No pause: this is about what happens once the pause is over (buffer-pause.test.ts).
    await connected({ maxBufferedMessages: 3, bufferFullPauseMs: 0 });
    await s.call('mqttSubscribe', { topic: 'drop/#', qos: 1 });
    for (let i = 1; i <= 5; i++) await s.call('mqttPublish', { topic: 'drop/n', payload: String(i), qos: 1 });
    await eventually(async () => (s.notifications.length >= 5 ? true : undefined), 'five messages');
    const status = await s.call('mqttStatus');
    expect(status.structuredContent).toMatchObject({
      connections: [{ buffer: { size: 3, capacity: 3, dropped: 2, whenFull: 'drop-oldest', pauseMs: 0 } }],
    });
    const result = await read();
    expect(result.messages.map((m) => m.payload)).toEqual(['3', '4', '5']);
    expect(result.dropped).toBe(2);
    expect((await read()).dropped).toBe(0);
  });

  it('waits up to waitMs for the next matching message when none is buffered', async () => {
    await connected();
    await s.call('mqttSubscribe', { topic: 'wait/#', qos: 1 });
    const waiting = s.call('mqttReadMessages', { topic: 'wait/yes', waitMs: 20_000 });
    // A message that does not match the filter does not end the wait.
    await s.call('mqttPublish', { topic: 'wait/no', payload: 'ignored', qos: 1 });
    await s.call('mqttPublish', { topic: 'wait/yes', payload: 'wanted', qos: 1 });
    const result = (await waiting).structuredContent as unknown as Read;
    expect(result.messages.map((m) => m.payload)).toEqual(['wanted']);
  });

  it('returns an empty list when waitMs passes with no message', async () => {
    await connected();
    const result = await read({ waitMs: 50 });
    expect(result.messages).toEqual([]);
  });

  it('delivers a payload that is not UTF-8 base64-encoded, flagged by payloadEncoding', async () => {
    await connected();
    await s.call('mqttSubscribe', { topic: 'bin', qos: 1 });
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    await s.call('mqttPublish', {
      topic: 'bin',
      payload: bytes.toString('base64'),
      payloadEncoding: 'base64',
      qos: 1,
    });
    const result = await read({ waitMs: 5000 });
    expect(result.messages[0]).toMatchObject({
      payload: bytes.toString('base64'),
      payloadEncoding: 'base64',
    });
    const notified = s.notifications[0]?.data as ReceivedMessage;
    expect(notified).toMatchObject({ payload: bytes.toString('base64'), payloadEncoding: 'base64' });
  });

  it('receives retained messages on subscribe, flagged retain', async () => {
    await connected();
    await s.call('mqttPublish', { topic: 'retained/t', payload: 'kept', qos: 1, retain: true });
    await s.call('mqttSubscribe', { topic: 'retained/#', qos: 1 });
    const result = await read({ waitMs: 5000 });
    expect(result.messages).toMatchObject([{ topic: 'retained/t', payload: 'kept', retain: true }]);
    await s.call('mqttPublish', { topic: 'retained/t', payload: '', qos: 1, retain: true });
  });
});

describe('logging notifications', () => {
  it('pushes each received message as notifications/message at level info with its data', async () => {
    await connected();
    await s.call('mqttSubscribe', { topic: 'notify/+', qos: 2 });
    await s.call('mqttPublish', { topic: 'notify/a', payload: '{"t":21}', qos: 2 });
    const [n] = await eventually(
      async () => (s.notifications.length > 0 ? s.notifications : undefined),
      'a notification',
    );
    expect(n).toMatchObject({
      level: 'info',
      logger: 'mqtt',
      data: {
        connection: 'default',
        topic: 'notify/a',
        payload: '{"t":21}',
        payloadEncoding: 'utf8',
        qos: 2,
        retain: false,
      },
    });
  });

  it('stops pushing them when the client raises the log level above info, and the buffer still has them', async () => {
    await connected();
    await s.client.setLoggingLevel('warning');
    await s.call('mqttSubscribe', { topic: 'quiet', qos: 1 });
    await s.call('mqttPublish', { topic: 'quiet', payload: 'x', qos: 1 });
    const result = await read({ waitMs: 5000 });
    expect(result.messages).toHaveLength(1);
    expect(s.notifications).toEqual([]);
  });
});
