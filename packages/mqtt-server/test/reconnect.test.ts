import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../src/index.js';
import { eventually, openSession, startAedes, type TestBroker, type TestSession, textOf } from './support.js';

let broker: TestBroker;
let s: TestSession;

beforeAll(async () => {
  broker = await startAedes();
  s = await openSession({ reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 200 });
});
afterAll(async () => {
  await s.close();
  await broker.close();
});

const state = async () =>
  ((await s.call('mqttStatus')).structuredContent as { connections: ConnectionStatus[] }).connections[0];

describe('a broker that goes away and comes back', () => {
  it('reconnects with backoff, restores subscriptions, and fails publishes clearly meanwhile', async () => {
    await s.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'reconnect-1' });
    await s.call('mqttSubscribe', { topic: 'rc/#', qos: 1 });

    await broker.stop();
    await eventually(
      async () => ((await state())?.state === 'reconnecting' ? true : undefined),
      'reconnecting',
    );
    const during = await s.call('mqttPublish', { topic: 'rc/x', payload: 'lost', qos: 1 });
    expect(during.isError).toBe(true);
    expect(errorDataOf(during)).toMatchObject({ code: 'NOT_CONNECTED', state: 'reconnecting' });
    expect(textOf(during)).toContain('Nothing was sent');
    const subscribeDuring = await s.call('mqttSubscribe', { topic: 'rc2/#' });
    expect(errorDataOf(subscribeDuring)).toMatchObject({ code: 'NOT_CONNECTED' });

    await broker.start();
    const back = await eventually(async () => {
      const st = await state();
      return st?.state === 'connected' ? st : undefined;
    }, 'connected again');
    expect(back.reconnects).toBe(1);
    expect(back.subscriptions).toEqual([{ topic: 'rc/#', qos: 1, grantedQos: 1 }]);

    // The restarted broker knows nothing of the old subscription: receiving proves it was restored.
    await s.call('mqttPublish', { topic: 'rc/after', payload: 'back', qos: 1 });
    const read = await s.call('mqttReadMessages', { waitMs: 10_000 });
    expect(read.structuredContent).toMatchObject({ messages: [{ topic: 'rc/after', payload: 'back' }] });
  });
});
