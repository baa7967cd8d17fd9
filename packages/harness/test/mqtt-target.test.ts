/** The broker targets themselves: every listener takes the client it is meant for and refuses others. */
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/suites/wait.js';
import { type MqttBrokerTarget, type MqttListener, mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { mosquittoCapabilities, parseMosquittoVersion } from '../src/targets/mqtt/mosquitto.js';
import { describeEachTier } from '../src/testing/tiers.js';

async function tryConnect(l: MqttListener, options: IClientOptions): Promise<MqttClient> {
  return connectAsync(l.url, { reconnectPeriod: 0, connectTimeout: 5000, ...options }, false);
}

function optionsFor(target: MqttBrokerTarget, l: MqttListener): IClientOptions {
  const options: IClientOptions = {};
  if (l.requiresPassword) Object.assign(options, target.credentials);
  if (l.protocol === 'mqtts' || l.protocol === 'wss') options.ca = target.tls?.ca;
  if (l.requiresClientCertificate)
    Object.assign(options, { cert: target.tls?.clientCert, key: target.tls?.clientKey });
  return options;
}

describeEachTier('MQTT broker target', mqttBrokerProviders, (ctx) => {
  it('has the capabilities its tier declared before it started (which decided the tests declared)', () => {
    const provider = mqttBrokerProviders.find((p) => p.tier === ctx.tier);
    // The container tier's come from the run's check of the image, the broker's from itself.
    expect(ctx.target().capabilities).toEqual(provider?.capabilities);
  });

  it('accepts the intended client on every listener it declares', async () => {
    const target = ctx.target();
    const declared = Object.values(target.listeners);
    expect(declared.length).toBe(
      2 +
        (target.capabilities.tls ? 2 : 0) +
        (target.capabilities.ws ? 1 : 0) +
        (target.capabilities.ws && target.capabilities.tls ? 1 : 0),
    );
    for (const l of declared) {
      const client = await tryConnect(l, optionsFor(target, l));
      expect(client.connected, l.url).toBe(true);
      await client.endAsync();
    }
  });

  it('refuses a wrong password and, with TLS, a client without certificate', async () => {
    const target = ctx.target();
    await expect(
      tryConnect(target.listeners.password, { username: target.credentials.username, password: 'wrong' }),
    ).rejects.toThrow();
    if (target.listeners.mutualTls) {
      await expect(tryConnect(target.listeners.mutualTls, { ca: target.tls?.ca })).rejects.toThrow();
    }
  });

  ctx.itWith('restart')('comes back on the same ports after restart()', async () => {
    const target = ctx.target();
    const before = target.listeners.mqtt.port;
    await target.restart();
    expect(target.listeners.mqtt.port).toBe(before);
    for (const l of Object.values(target.listeners)) {
      const client = await tryConnect(l, optionsFor(target, l));
      await client.endAsync();
    }
  });

  ctx.itWith('persistence')(
    "keeps retained messages and a persistent session's queued messages across restart('SIGTERM')",
    async () => {
      const target = ctx.target();
      const id = `persist-${process.pid}-${Date.now()}`;
      const session: IClientOptions = { clientId: id, clean: false };
      const first = await tryConnect(target.listeners.mqtt, session);
      await first.subscribeAsync('target-persist/#', { qos: 1 });
      await first.endAsync();
      const publisher = await tryConnect(target.listeners.mqtt, {});
      await publisher.publishAsync('target-persist/queued', 'q', { qos: 1 });
      await publisher.publishAsync('target-persist-retained', 'r', { qos: 1, retain: true });
      await publisher.endAsync();

      await target.restart('SIGTERM');

      const received: string[] = [];
      const back = connect(target.listeners.mqtt.url, { ...session, reconnectPeriod: 0 });
      back.on('error', () => {});
      back.on('message', (topic, payload) => received.push(`${topic}=${payload}`));
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve) =>
        back.once('connect', resolve),
      );
      expect(connack.sessionPresent).toBe(true);
      await back.subscribeAsync('target-persist-retained', { qos: 1 });
      await waitFor(() => (received.length >= 2 ? true : undefined), 'queued and retained', 10_000);
      expect(received.sort()).toEqual(['target-persist-retained=r', 'target-persist/queued=q']);
      // Leave nothing behind for other tests: clear the retained message, end the session.
      await back.publishAsync('target-persist-retained', '', { qos: 1, retain: true });
      await back.endAsync();
    },
  );
});

describe("a Mosquitto's capabilities by its version", () => {
  it('reads the version from the first line of mosquitto -h', () => {
    expect(
      parseMosquittoVersion('mosquitto version 2.0.21\n\nmosquitto is an MQTT v5.0/v3.1.1/v3.1 broker.'),
    ).toEqual([2, 0, 21]);
    expect(parseMosquittoVersion('sh: 1: /usr/sbin/mosquitto: not found')).toBeUndefined();
  });

  it('sends 0x8E from 2.0.15, and queues for offline sessions (per_listener_settings) before 2.0.12 and after 2.0.22', () => {
    const of = (v: number[]) => {
      const c = mosquittoCapabilities(v);
      return { takeoverReason: c.takeoverReason, persistence: c.persistence };
    };
    expect(of([2, 0, 11])).toEqual({ takeoverReason: false, persistence: true });
    expect(of([2, 0, 12])).toEqual({ takeoverReason: false, persistence: false });
    expect(of([2, 0, 15])).toEqual({ takeoverReason: true, persistence: false });
    expect(of([2, 0, 21])).toEqual({ takeoverReason: true, persistence: false });
    expect(of([2, 0, 23])).toEqual({ takeoverReason: true, persistence: true });
    expect(of([2, 1, 0])).toEqual({ takeoverReason: true, persistence: true });
  });
});
