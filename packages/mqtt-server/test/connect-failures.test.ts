import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  openSession,
  startAedes,
  startSilentServer,
  type TestBroker,
  type TestSession,
  textOf,
  unusedPort,
} from './support.js';

let broker: TestBroker;
const sessions: TestSession[] = [];
const open = async (options = {}) => {
  const s = await openSession(options);
  sessions.push(s);
  return s;
};

beforeAll(async () => {
  broker = await startAedes({ alice: 'right-password' });
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await broker.close();
});

/** The MQTTX server's client kept retrying once a second; waiting past that proves ours does not. */
const PAST_A_RETRY = 1500;

describe('a failed connect', () => {
  it('reports AUTH_FAILED with the broker reason code, without the password, and never retries', async () => {
    const s = await open();
    const before = broker.connects;
    const result = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'auth-1',
      username: 'alice',
      password: 'wrong-password',
    });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'AUTH_FAILED', reasonCode: 4 });
    expect(textOf(result)).toMatch(/Authentication failed.*reason code 4/);
    expect(JSON.stringify(result)).not.toContain('wrong-password');
    await sleep(PAST_A_RETRY);
    expect(broker.connects - before).toBe(1);
    const status = await s.call('mqttStatus');
    expect(status.structuredContent).toEqual({ connections: [] });
  });

  it('reports CONNECT_REFUSED when nothing listens, and nothing dials the port afterwards', async () => {
    const s = await open();
    const port = await unusedPort();
    const result = await s.call('mqttConnect', { host: '127.0.0.1', port, clientId: 'refused-1' });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'CONNECT_REFUSED', port });
    expect(textOf(result)).toContain('Connection refused');
    // Something starts listening on the port: a client left retrying would now reach it.
    const arrivals: Socket[] = [];
    const listener = createServer((socket) => {
      arrivals.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
    await sleep(PAST_A_RETRY);
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    expect(arrivals).toHaveLength(0);
  });

  it('reports CONNECT_TIMEOUT after connectTimeoutMs when the host accepts but never answers', async () => {
    const silent = await startSilentServer();
    try {
      const s = await open();
      const result = await s.call('mqttConnect', {
        host: '127.0.0.1',
        port: silent.port,
        clientId: 'timeout-1',
        connectTimeoutMs: 300,
      });
      expect(result.isError).toBe(true);
      expect(errorDataOf(result)).toMatchObject({ code: 'CONNECT_TIMEOUT', timeoutMs: 300 });
      expect(textOf(result)).toContain('Timed out after 300 ms');
    } finally {
      await silent.close();
    }
  });

  it('reports DNS_FAILED for a host name that does not resolve', async () => {
    const s = await open();
    const result = await s.call('mqttConnect', {
      host: 'no-such-broker.invalid',
      port: 1883,
      clientId: 'dns-1',
    });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'DNS_FAILED', host: 'no-such-broker.invalid' });
  });

  it('reports TLS_FAILED when mqtts meets a broker that does not speak TLS', async () => {
    const s = await open();
    const result = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'tls-1',
      protocol: 'mqtts',
    });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'TLS_FAILED' });
  });

  it('reports CONNECT_REJECTED with the reason code when the broker refuses MQTT 5 (Aedes speaks 3.1.1)', async () => {
    const s = await open();
    const result = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'v5-1',
      protocolVersion: 5,
      username: 'alice',
      password: 'right-password',
    });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'CONNECT_REJECTED', reasonCode: 1 });
  });

  it('keeps the session usable: a good connect after failures works', async () => {
    const s = await open();
    await s.call('mqttConnect', { host: '127.0.0.1', port: await unusedPort(), clientId: 'again-1' });
    const ok = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'again-2',
      username: 'alice',
      password: 'right-password',
    });
    expect(ok.isError).toBeFalsy();
  });
});

describe('--allow-brokers', () => {
  it('refuses a broker that is not listed with BROKER_NOT_ALLOWED, before any connection is made', async () => {
    const s = await open({ allowBrokers: 'broker.example:1883' });
    const before = broker.connects;
    const result = await s.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'allow-1' });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'BROKER_NOT_ALLOWED' });
    expect(broker.connects).toBe(before);
  });

  it('lets a listed host:port through, and host:* allows any port of that host', async () => {
    const exact = await open({ allowBrokers: `127.0.0.1:${broker.port}` });
    const wildcard = await open({ allowBrokers: ['other:1', '127.0.0.1:*'] });
    for (const s of [exact, wildcard]) {
      const result = await s.call('mqttConnect', {
        host: '127.0.0.1',
        port: broker.port,
        clientId: `allow-${sessions.indexOf(s)}`,
        username: 'alice',
        password: 'right-password',
      });
      expect(result.isError).toBeFalsy();
    }
  });
});
