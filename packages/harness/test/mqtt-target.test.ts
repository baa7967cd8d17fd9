/** The broker targets themselves: every listener takes the client it is meant for and refuses others. */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { expect, it } from 'vitest';
import { type MqttBrokerTarget, type MqttListener, mqttBrokerProviders } from '../src/targets/mqtt/index.js';
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
});
