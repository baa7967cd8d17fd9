/** Connect failures against real brokers: each one a clear, coded result, and nothing left retrying. */
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterEach, expect, it } from 'vitest';
import { startFaultProxy } from '../src/faults/tcp-proxy.js';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProviders, mqttBrokerProvidersWith } from '../src/targets/mqtt/index.js';
import { freePort } from '../src/targets/process.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs, sessionPool, textOf } from './mqtt-helpers.js';

/** The MQTTX server's client retried once a second; watching past that shows whether ours does. */
const PAST_A_RETRY_MS = 1500;

/** Counts TCP connections that arrive on `port` while `during` runs. */
async function arrivalsOn(port: number, during: () => Promise<void>): Promise<number> {
  let arrivals = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    arrivals++;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    await during();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return arrivals;
}

describeEachTier('MQTT connect failures', mqttBrokerProviders, (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.connect.refused'), async () => {
    const s = await pool.open();
    const port = await freePort();
    const result = await s.call('mqttConnect', { host: '127.0.0.1', port, clientId: 'refused' });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'CONNECT_REFUSED', host: '127.0.0.1', port });
    expect(textOf(result)).toBe(`Connection refused by 127.0.0.1:${port}: no broker is listening there`);
  });

  it(verifies('mqtt.connect.no-retry'), async () => {
    const s = await pool.open();
    const port = await freePort();
    await s.call('mqttConnect', { host: '127.0.0.1', port, clientId: 'refused-once' });
    // A client left reconnecting would now reach the port.
    expect(await arrivalsOn(port, () => sleep(PAST_A_RETRY_MS))).toBe(0);
    expect(await s.ok('mqttStatus')).toEqual({ connections: [] });
  });

  it(verifies('mqtt.connect.auth-failed'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const result = await s.call(
      'mqttConnect',
      connectArgs(t, 'password', { password: 'definitely-wrong-pw' }),
    );
    expect(result.isError).toBe(true);
    const content = errorDataOf(result) as unknown as { code: string; reasonCode: number };
    expect(content.code).toBe('AUTH_FAILED');
    // Aedes answers 4 (bad user name or password); Mosquitto 5 (not authorized).
    expect([4, 5]).toContain(content.reasonCode);
    expect(textOf(result)).toContain(`reason code ${content.reasonCode}`);
    // With MQTT 5 the reason code is the MQTT 5 one.
    if (t.capabilities.mqtt5) {
      const v5 = await s.call(
        'mqttConnect',
        connectArgs(t, 'password', { password: 'nope', protocolVersion: 5 }),
      );
      expect(errorDataOf(v5)).toMatchObject({ code: 'AUTH_FAILED' });
      expect([0x86, 0x87]).toContain((errorDataOf(v5) as unknown as { reasonCode: number }).reasonCode);
    }
    const good = await s.call('mqttConnect', connectArgs(t, 'password'));
    expect(good.isError).toBeFalsy();
  });

  it(verifies('mqtt.secrets.never-echoed'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const refused = await s.call(
      'mqttConnect',
      connectArgs(t, 'password', { password: 'definitely-wrong-pw' }),
    );
    const good = await s.call('mqttConnect', connectArgs(t, 'password'));
    const everything = JSON.stringify([refused, good, await s.call('mqttStatus')]);
    expect(everything).not.toContain('definitely-wrong-pw');
    expect(everything).not.toContain(t.credentials.password);
  });

  it(verifies('mqtt.connect.timeout'), async () => {
    const t = ctx.target();
    // A proxy in front of the real broker that swallows everything: the host is there, MQTT never answers.
    const proxy = await startFaultProxy({ targetHost: t.host, targetPort: t.port });
    try {
      proxy.blackhole(true);
      const s = await pool.open();
      const result = await s.call('mqttConnect', {
        host: proxy.host,
        port: proxy.port,
        clientId: 'blackholed',
        connectTimeoutMs: 500,
      });
      expect(result.isError).toBe(true);
      expect(errorDataOf(result)).toMatchObject({ code: 'CONNECT_TIMEOUT', timeoutMs: 500 });
      expect(textOf(result)).toContain('Timed out after 500 ms');
      // No retry: after the failure the proxy sees no further connection attempts.
      await sleep(PAST_A_RETRY_MS);
      expect(proxy.connectionCount()).toBe(0);
      proxy.heal();
      const through = await s.call('mqttConnect', { host: proxy.host, port: proxy.port, clientId: 'healed' });
      expect(through.isError).toBeFalsy();
    } finally {
      await pool.closeAll();
      await proxy.close();
    }
  });

  it(verifies('mqtt.connect.dns'), async () => {
    const s = await pool.open();
    const result = await s.call('mqttConnect', {
      host: 'no-such-broker.invalid',
      port: 1883,
      clientId: 'dns',
    });
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'DNS_FAILED', host: 'no-such-broker.invalid' });
  });

  it(verifies('mqtt.connect.allow-brokers'), async () => {
    const t = ctx.target();
    const other = await freePort();
    const s = await pool.open({ allowBrokers: `${t.host}:${t.port}` });
    let refused: Awaited<ReturnType<typeof s.call>> | undefined;
    const arrivals = await arrivalsOn(other, async () => {
      refused = await s.call('mqttConnect', { host: t.host, port: other, clientId: 'not-allowed' });
    });
    expect(errorDataOf(refused ?? {})).toMatchObject({ code: 'BROKER_NOT_ALLOWED', port: other });
    expect(arrivals).toBe(0);
    const allowed = await s.call('mqttConnect', { host: t.host, port: t.port, clientId: 'allowed' });
    expect(allowed.isError).toBeFalsy();
  });
});

describeEachTier('MQTT TLS connect failures', mqttBrokerProvidersWith('tls'), (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.connect.tls-untrusted'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    // No `ca`: the broker's certificate is signed by a CA the system does not trust.
    const { ca: _ca, ...untrusting } = connectArgs(t, 'mqtts');
    const result = await s.call('mqttConnect', untrusting);
    expect(result.isError).toBe(true);
    expect(errorDataOf(result)).toMatchObject({ code: 'TLS_FAILED' });
    expect(textOf(result)).toContain('TLS handshake');
  });
});
