import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../src/index.js';
import { eventually, openSession, startAedes, type TestBroker, type TestSession, textOf } from './support.js';

let broker: TestBroker;
const sessions: TestSession[] = [];
const open = async (options = {}) => {
  const s = await openSession(options);
  sessions.push(s);
  return s;
};

beforeAll(async () => {
  broker = await startAedes();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await broker.close();
});

const statusOf = async (s: TestSession) =>
  ((await s.call('mqttStatus')).structuredContent as { connections: ConnectionStatus[] }).connections;

/** Client ids currently connected to the broker. */
const brokerClients = () =>
  Object.keys((broker.aedes as unknown as { clients: Record<string, unknown> }).clients);

describe('named connections', () => {
  it('keeps several named connections apart: subscriptions, messages and disconnects', async () => {
    const s = await open();
    await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'named-a',
      connection: 'a',
    });
    await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'named-b',
      connection: 'b',
    });
    await s.call('mqttSubscribe', { topic: 'named/for-a', qos: 1, connection: 'a' });
    await s.call('mqttPublish', { topic: 'named/for-a', payload: 'hi a', qos: 1, connection: 'b' });
    const readA = await s.call('mqttReadMessages', { connection: 'a', waitMs: 5000 });
    expect(readA.structuredContent).toMatchObject({
      connection: 'a',
      messages: [{ payload: 'hi a', connection: 'a' }],
    });
    const readB = await s.call('mqttReadMessages', { connection: 'b' });
    expect(readB.structuredContent).toMatchObject({ messages: [] });
    expect((await statusOf(s)).map((c) => c.name).sort()).toEqual(['a', 'b']);
    await s.call('mqttDisconnect', { connection: 'a' });
    expect((await statusOf(s)).map((c) => c.name)).toEqual(['b']);
  });

  it('refuses a connection beyond the per-session limit with TOO_MANY_CONNECTIONS', async () => {
    const s = await open({ maxConnectionsPerSession: 1 });
    await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'limit-a',
      connection: 'a',
    });
    const second = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'limit-b',
      connection: 'b',
    });
    expect(errorDataOf(second)).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    // Replacing the existing name is still allowed.
    const replace = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'limit-c',
      connection: 'a',
    });
    expect(replace.isError).toBeFalsy();
  });
});

describe('MCP sessions', () => {
  it('never lets one session see or use the connections of another', async () => {
    const one = await open();
    const two = await open();
    await one.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'iso-one' });
    expect(await statusOf(two)).toEqual([]);
    const publish = await two.call('mqttPublish', { topic: 'iso', payload: 'x' });
    expect(errorDataOf(publish)).toMatchObject({ code: 'UNKNOWN_CONNECTION' });
    const disconnect = await two.call('mqttDisconnect');
    expect(disconnect.structuredContent).toMatchObject({ wasConnected: false });
    expect((await statusOf(one)).map((c) => c.state)).toEqual(['connected']);
  });

  it('gives each session its own messages even on the same topic', async () => {
    const one = await open();
    const two = await open();
    await one.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'own-one' });
    await two.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'own-two' });
    await one.call('mqttSubscribe', { topic: 'own/t', qos: 1 });
    await two.call('mqttSubscribe', { topic: 'own/t', qos: 1 });
    await one.call('mqttPublish', { topic: 'own/t', payload: 'both', qos: 1 });
    for (const s of [one, two]) {
      const read = await s.call('mqttReadMessages', { waitMs: 5000 });
      expect(read.structuredContent).toMatchObject({ messages: [{ payload: 'both' }] });
    }
    expect(textOf(await one.call('mqttReadMessages'))).toContain('"messages": []');
  });

  it('closes every broker connection of a session when the session ends', async () => {
    const s = await openSession();
    await s.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'end-a', connection: 'a' });
    await s.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'end-b', connection: 'b' });
    await eventually(() => (brokerClients().includes('end-b') ? true : undefined), 'clients on the broker');
    await s.client.close();
    await eventually(
      () => (brokerClients().some((id) => id.startsWith('end-')) ? undefined : true),
      'the broker to see both clients go',
    );
    await s.session.close();
  });
});
