import { createServer, type Server, type Socket } from 'node:net';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../src/index.js';
import { eventually, openSession, type TestSession } from './support.js';

/** A "broker" that accepts CONNECT with a CONNACK, then does whatever `afterConnack` says. */
async function startFakeBroker(
  afterConnack: (socket: Socket) => void,
  connack = Buffer.from([0x20, 2, 0, 0]),
) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(connack);
      afterConnack(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let s: TestSession | undefined;
let fake: Awaited<ReturnType<typeof startFakeBroker>> | undefined;
afterEach(async () => {
  await s?.close();
  await fake?.close();
  s = undefined;
  fake = undefined;
});

describe('a misbehaving broker', () => {
  it('answers garbage instead of a CONNACK: a clear error, and the process carries on', async () => {
    fake = await startFakeBroker(() => {}, Buffer.from([0x00, 0x00, 0xff, 0xff]));
    s = await openSession();
    const result = await s.call('mqttConnect', { host: '127.0.0.1', port: fake.port, clientId: 'garbage-1' });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: expect.stringMatching(/CONNECT_/) });
    expect((await s.call('mqttStatus')).structuredContent).toEqual({ connections: [] });
  });

  it('sends a malformed packet after connecting: the call fails clearly, the connection recovers', async () => {
    let connections = 0;
    fake = await startFakeBroker((socket) => {
      const first = ++connections === 1;
      socket.on('data', (packet) => {
        if (packet[0] !== 0x82) return; // only SUBSCRIBE is answered
        // The first connection answers with reserved packet type 0 [MQTT-2.2.1], which the
        // client's parser rejects; later ones with a proper SUBACK granting QoS 0.
        socket.write(
          first ? Buffer.from([0x00, 0x00]) : Buffer.from([0x90, 3, packet[2] ?? 0, packet[3] ?? 0, 0]),
        );
      });
    });
    const session = await openSession({ reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 50 });
    s = session;
    const connect = await session.call('mqttConnect', {
      host: '127.0.0.1',
      port: fake.port,
      clientId: 'garbage-2',
    });
    expect(connect.isError).toBeFalsy();
    const subscribe = await session.call('mqttSubscribe', { topic: 't' });
    expect(subscribe.isError).toBe(true);
    expect(errorDataOf(subscribe)).toMatchObject({ code: 'CONNECTION_LOST' });
    const status = await eventually(async () => {
      const c = ((await session.call('mqttStatus')).structuredContent as { connections: ConnectionStatus[] })
        .connections[0];
      return c !== undefined && c.reconnects >= 1 && c.state === 'connected' ? c : undefined;
    }, 'a reconnect after the protocol error');
    expect(status.lastError).toBeDefined();
    expect((await session.call('mqttSubscribe', { topic: 't' })).isError).toBeFalsy();
  });
});
