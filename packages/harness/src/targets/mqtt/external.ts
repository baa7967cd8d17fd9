/**
 * The external tier's broker: one someone else runs, given by environment variables. The harness
 * cannot kill or restart it, so tests that need that are skipped for this tier with the reason.
 *
 *   BASTION_EXTERNAL_MQTT_URL            mqtt://host:port of a listener that accepts anonymous clients
 *   BASTION_EXTERNAL_MQTT_USERNAME       a user the broker accepts ...
 *   BASTION_EXTERNAL_MQTT_PASSWORD       ... and its password, or
 *   BASTION_EXTERNAL_MQTT_PASSWORD_FILE  a file holding it (first line)
 *   BASTION_EXTERNAL_MQTT_AUTH_URL       mqtt://host:port where that user logs in and anonymous
 *                                        clients are refused (default: BASTION_EXTERNAL_MQTT_URL)
 *   BASTION_EXTERNAL_MQTT_V5=1           the broker speaks MQTT 5
 * Only plain MQTT (3.1.1, and 5 when declared) is tested here; TLS and WebSocket need the
 * certificates and listeners the harness makes for its own brokers.
 */
import { readFileSync } from 'node:fs';
import type { Availability } from '../../testing/tiers.js';
import { lacksFrom } from '../../testing/tiers.js';
import {
  listener,
  type MqttBrokerCapabilities,
  type MqttBrokerProvider,
  type MqttBrokerTarget,
} from './types.js';

const URL_VAR = 'BASTION_EXTERNAL_MQTT_URL';

function capabilities(env: NodeJS.ProcessEnv): MqttBrokerCapabilities {
  const v5 = env.BASTION_EXTERNAL_MQTT_V5;
  return {
    mqtt5: v5 === '1' || v5 === 'true',
    tls: false,
    ws: false,
    restart: false,
    persistence: false,
    takeoverReason: false,
  };
}

function hostPort(variable: string, value: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${variable} is not a URL: expected mqtt://host:port`);
  }
  if (url.protocol !== 'mqtt:')
    throw new Error(`${variable}: only mqtt:// is supported, not ${url.protocol}//`);
  if (url.username !== '' || url.password !== '') {
    // A password in a URL ends up in logs and reports; it has its own variable.
    throw new Error(`${variable} must not carry credentials (use BASTION_EXTERNAL_MQTT_USERNAME/PASSWORD)`);
  }
  return { host: url.hostname, port: url.port === '' ? 1883 : Number(url.port) };
}

function password(env: NodeJS.ProcessEnv): string | undefined {
  const direct = env.BASTION_EXTERNAL_MQTT_PASSWORD;
  if (direct !== undefined && direct !== '') return direct;
  const file = env.BASTION_EXTERNAL_MQTT_PASSWORD_FILE;
  if (file === undefined || file === '') return undefined;
  return readFileSync(file, 'utf8').split('\n')[0];
}

export function externalMqttAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  const url = env[URL_VAR];
  if (url === undefined || url === '') return { available: false, reason: `${URL_VAR} is not set` };
  try {
    hostPort(URL_VAR, url);
    if (env.BASTION_EXTERNAL_MQTT_AUTH_URL)
      hostPort('BASTION_EXTERNAL_MQTT_AUTH_URL', env.BASTION_EXTERNAL_MQTT_AUTH_URL);
    if (!env.BASTION_EXTERNAL_MQTT_USERNAME)
      return { available: false, reason: 'BASTION_EXTERNAL_MQTT_USERNAME is not set' };
    if (password(env) === undefined) {
      return {
        available: false,
        reason: 'neither BASTION_EXTERNAL_MQTT_PASSWORD nor BASTION_EXTERNAL_MQTT_PASSWORD_FILE is set',
      };
    }
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
  return { available: true };
}

export async function startExternalMqttBroker(
  env: NodeJS.ProcessEnv = process.env,
): Promise<MqttBrokerTarget> {
  const availability = externalMqttAvailability(env);
  if (!availability.available) throw new Error(availability.reason);
  const anon = hostPort(URL_VAR, env[URL_VAR] ?? '');
  const auth = env.BASTION_EXTERNAL_MQTT_AUTH_URL
    ? hostPort('BASTION_EXTERNAL_MQTT_AUTH_URL', env.BASTION_EXTERNAL_MQTT_AUTH_URL)
    : anon;
  const mqtt = listener('mqtt', anon.host, anon.port);
  const cannot = async () => {
    throw new Error('the harness cannot stop or restart an external broker');
  };
  return {
    tier: 'external',
    implementation: 'external',
    capabilities: capabilities(env),
    host: anon.host,
    port: anon.port,
    url: mqtt.url,
    listeners: { mqtt, password: listener('mqtt', auth.host, auth.port, { requiresPassword: true }) },
    credentials: { username: env.BASTION_EXTERNAL_MQTT_USERNAME ?? '', password: password(env) ?? '' },
    down: cannot,
    up: cannot,
    restart: cannot,
    async stop() {
      // Not ours to stop.
    },
  };
}

export const externalMqttBrokerProvider: MqttBrokerProvider = {
  kind: 'mqtt-broker',
  tier: 'external',
  implementation: 'external',
  get capabilities() {
    return capabilities(process.env);
  },
  availability: () => externalMqttAvailability(),
  start: () => startExternalMqttBroker(),
  lacks: (need) =>
    lacksFrom('the external broker', capabilities(process.env), {
      restart: 'the harness cannot kill or restart an external broker',
      tls: 'TLS is tested only on brokers the harness makes the certificates for',
      ws: 'WebSocket is tested only on the brokers the harness starts',
      mqtt5: 'BASTION_EXTERNAL_MQTT_V5 is not set',
      persistence: 'the harness cannot restart an external broker to see what it kept',
      takeoverReason: 'what an external broker sends on a takeover is not known',
    })(need),
};
