/**
 * The process tier's broker: a real Mosquitto 2 started from a config written to a temp dir, with
 * one listener of each kind on random free ports:
 *   mqtt (anonymous) | mqtt (password file) | mqtts | mqtts requiring a client certificate | ws | wss
 * Mosquitto speaks MQTT 3.1.1 and 5 on all of them.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, ServiceProcess, waitForPort } from '../process.js';
import { createTestPki, opensslAvailable } from './tls.js';
import {
  listener,
  type MqttBrokerCapabilities,
  type MqttBrokerProvider,
  type MqttBrokerTarget,
} from './types.js';

const HOST = '127.0.0.1';
const CAPABILITIES: MqttBrokerCapabilities = { mqtt5: true, tls: true, ws: true };

/**
 * A password-file line in Mosquitto 2's `$7$` format (PBKDF2-SHA512, 101 iterations, 12-byte salt),
 * the same as `mosquitto_passwd -b` writes, so no second binary is needed.
 */
export function mosquittoPasswordLine(username: string, password: string): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, 101, 64, 'sha512');
  return `${username}:$7$101$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function mosquittoAvailability() {
  if (findBinary('mosquitto') === undefined) {
    return {
      available: false as const,
      reason: 'mosquitto is not on PATH (Debian: apt-get install mosquitto)',
    };
  }
  if (!opensslAvailable()) {
    return { available: false as const, reason: 'openssl is not on PATH (needed for the TLS listeners)' };
  }
  return { available: true as const };
}

export async function startMosquittoBroker(): Promise<MqttBrokerTarget> {
  const binary = findBinary('mosquitto');
  if (binary === undefined) throw new Error('mosquitto is not on PATH');
  const dir = await mkdtemp(join(tmpdir(), 'bastion-mosquitto-'));
  try {
    const pki = await createTestPki(dir);
    const credentials = { username: 'bastion', password: randomBytes(12).toString('hex') };
    const passwd = join(dir, 'passwd');
    await writeFile(passwd, `${mosquittoPasswordLine(credentials.username, credentials.password)}\n`);
    const ports = {
      mqtt: await freePort(),
      password: await freePort(),
      mqtts: await freePort(),
      mutualTls: await freePort(),
      ws: await freePort(),
      wss: await freePort(),
    };
    const certs = [`certfile ${pki.files.serverCert}`, `keyfile ${pki.files.serverKey}`];
    const config = [
      'per_listener_settings true',
      'persistence false',
      'log_dest stderr',
      // No pid_file: as root Mosquitto drops to user `mosquitto` before writing it.
      `listener ${ports.mqtt} ${HOST}`,
      'allow_anonymous true',
      `listener ${ports.password} ${HOST}`,
      'allow_anonymous false',
      `password_file ${passwd}`,
      `listener ${ports.mqtts} ${HOST}`,
      'allow_anonymous true',
      ...certs,
      `listener ${ports.mutualTls} ${HOST}`,
      'allow_anonymous true',
      `cafile ${pki.files.caCert}`,
      ...certs,
      'require_certificate true',
      // Mosquitto 2.0's websockets listeners ignore the bind address and listen on every interface.
      `listener ${ports.ws}`,
      'protocol websockets',
      'allow_anonymous true',
      `listener ${ports.wss}`,
      'protocol websockets',
      'allow_anonymous true',
      ...certs,
    ];
    const configFile = join(dir, 'mosquitto.conf');
    await writeFile(configFile, `${config.join('\n')}\n`);
    // Started as root, Mosquitto reads the password file and keys as user `mosquitto`: the
    // directory must be traversable and the files readable by it. All of it is throwaway.
    await chmod(dir, 0o755);
    for (const name of await readdir(dir)) await chmod(join(dir, name), 0o644);

    const service = new ServiceProcess({
      name: 'mosquitto',
      command: binary,
      args: ['-c', configFile],
      port: ports.mqtt,
      host: HOST,
    });
    const startAll = async () => {
      await service.start();
      // All listeners open together; wait for each so no test races the slowest.
      for (const port of Object.values(ports)) await waitForPort(port, HOST);
    };
    await startAll();

    const mqtt = listener('mqtt', HOST, ports.mqtt);
    let stopped = false;
    return {
      tier: 'process',
      implementation: 'mosquitto',
      capabilities: CAPABILITIES,
      host: HOST,
      port: mqtt.port,
      url: mqtt.url,
      listeners: {
        mqtt,
        password: listener('mqtt', HOST, ports.password, { requiresPassword: true }),
        mqtts: listener('mqtts', HOST, ports.mqtts),
        mutualTls: listener('mqtts', HOST, ports.mutualTls, { requiresClientCertificate: true }),
        ws: listener('ws', HOST, ports.ws),
        wss: listener('wss', HOST, ports.wss),
      },
      credentials,
      tls: { ca: pki.caCert, clientCert: pki.clientCert, clientKey: pki.clientKey },
      // SIGKILL: a crash, not a goodbye; clients learn of it from the dropped sockets.
      down: () => service.kill('SIGKILL'),
      async up() {
        if (service.pid === undefined) await startAll();
      },
      async restart() {
        await service.kill('SIGKILL');
        await startAll();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await service.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export const processMqttBrokerProvider: MqttBrokerProvider = {
  kind: 'mqtt-broker',
  tier: 'process',
  implementation: 'mosquitto',
  capabilities: CAPABILITIES,
  availability: mosquittoAvailability,
  start: startMosquittoBroker,
};
