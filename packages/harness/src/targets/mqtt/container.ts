/**
 * The container tier's broker: Mosquitto 2 in a container with the same listeners, credentials and
 * TLS material as the process tier (mosquittoConfig), so every tiered MQTT test runs here unchanged.
 * The config, password file and keys are copied in before the container starts; each listener is
 * published on a fixed port of 127.0.0.1, so `restart()` finds the broker where it was.
 *
 * Image: BASTION_MOSQUITTO_IMAGE, default `eclipse-mosquitto:2` (anything with /usr/sbin/mosquitto
 * and a `mosquitto` user works; scripts/prepare-containers.sh builds one from Debian trixie where no
 * registry is reachable). What it can do (0x8E on a takeover, queues for offline sessions) depends
 * on its version (mosquittoCapabilities): the run's check reads it before tests are declared
 * (containerCapabilities), and each started broker reads its own, so a target never claims what its
 * broker does not do.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectAsync } from 'mqtt';
import { runState } from '../../testing/run-state.js';
import { lacksFrom } from '../../testing/tiers.js';
import { dockerAvailability, imageFor, startTargetContainer } from '../container.js';
import { makeTempDir } from '../run-scope.js';
import {
  type MosquittoPorts,
  mosquittoCapabilities,
  mosquittoConfig,
  mosquittoPasswordLine,
  mosquittoTarget,
  PERSISTENCE_LACK,
  parseMosquittoVersion,
  TAKEOVER_REASON_LACK,
} from './mosquitto.js';
import { createTestPki, opensslAvailable } from './tls.js';
import type { MqttBrokerCapabilities, MqttBrokerProvider, MqttBrokerTarget } from './types.js';

const DIR = '/bastion';
const INSIDE: MosquittoPorts = {
  mqtt: 1883,
  password: 1884,
  mqtts: 8883,
  mutualTls: 8884,
  ws: 9001,
  wss: 9002,
};

/** Resolves once the anonymous listener answers a CONNECT (Mosquitto opens all listeners together). */
async function brokerAnswers(host: string, port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const client = await connectAsync(
        `mqtt://${host}:${port}`,
        {
          reconnectPeriod: 0,
          connectTimeout: 2_000,
          clientId: `bastion-ready-${randomBytes(4).toString('hex')}`,
        },
        false,
      );
      await client.endAsync(true);
      return;
    } catch (err) {
      last = (err as Error).message;
      await sleep(50);
    }
  }
  throw new Error(`no CONNACK on ${host}:${port} after ${timeoutMs} ms (${last})`);
}

/** The container tier's capabilities as far as the run's check knows its image's version. */
export function containerCapabilities(): MqttBrokerCapabilities {
  return mosquittoCapabilities(runState()?.containerMosquitto?.version);
}

/** Why the image's Mosquitto lacks a capability its version decides (`lack` is the version's why). */
function versionLack(lack: string): string {
  const probed = runState()?.containerMosquitto;
  if (probed === undefined) {
    return "the image's Mosquitto version, which decides this, is read by the run's container-tier check, which did not run";
  }
  if (probed.version === undefined) {
    return `the Mosquitto version of ${probed.image} could not be read (${probed.error ?? 'no output'})`;
  }
  return `${probed.image} has Mosquitto ${probed.version.join('.')}: ${lack}`;
}

export async function startMosquittoContainer(
  env: NodeJS.ProcessEnv = process.env,
): Promise<MqttBrokerTarget> {
  // The PKI is made (or copied from the run's) on the host and its files copied in.
  const dir = await makeTempDir('bastion-mosquitto-container-');
  try {
    const pki = await createTestPki(dir);
    const credentials = { username: 'bastion', password: randomBytes(12).toString('hex') };
    const read = (file: string) => readFile(file, 'utf8');
    const config = mosquittoConfig({
      ports: INSIDE,
      files: {
        passwd: `${DIR}/passwd`,
        caCert: `${DIR}/ca.crt`,
        serverCert: `${DIR}/server.crt`,
        serverKey: `${DIR}/server.key`,
      },
      persistenceDir: `${DIR}/data`,
    });
    const container = await startTargetContainer({
      name: 'mosquitto',
      image: imageFor('BASTION_MOSQUITTO_IMAGE', 'eclipse-mosquitto:2', env),
      ports: INSIDE,
      files: [
        { content: config, target: `${DIR}/mosquitto.conf`, mode: 0o644 },
        {
          content: `${mosquittoPasswordLine(credentials.username, credentials.password)}\n`,
          target: `${DIR}/passwd`,
          mode: 0o600,
        },
        { content: await read(pki.files.caCert), target: `${DIR}/ca.crt`, mode: 0o644 },
        { content: await read(pki.files.serverCert), target: `${DIR}/server.crt`, mode: 0o644 },
        { content: await read(pki.files.serverKey), target: `${DIR}/server.key`, mode: 0o600 },
      ],
      // Mosquitto started as root reads its files as user `mosquitto`, so they become its own.
      // The persistence directory lives in the container, so it survives kill() and start().
      command: [
        'sh',
        '-c',
        `mkdir -p ${DIR}/data && chown -R mosquitto ${DIR} && exec /usr/sbin/mosquitto -c ${DIR}/mosquitto.conf`,
      ],
      ready: (host, ports) => brokerAnswers(host, ports.mqtt),
    });
    let version: number[] | undefined;
    try {
      // Exit status 3 is Mosquitto 2.0's for `-h`; the version is the first line either way.
      version = parseMosquittoVersion(await container.exec(['/usr/sbin/mosquitto', '-h'], [0, 1, 3]));
    } catch (err) {
      await container.stop();
      throw err;
    }
    return mosquittoTarget({
      tier: 'container',
      capabilities: mosquittoCapabilities(version),
      host: container.host,
      ports: container.ports,
      credentials,
      pki,
      down: (signal) => container.kill(signal),
      up: () => container.start(),
      async stop() {
        await container.stop();
        await rm(dir, { recursive: true, force: true });
      },
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export const containerMqttBrokerProvider: MqttBrokerProvider = {
  kind: 'mqtt-broker',
  tier: 'container',
  implementation: 'mosquitto',
  get capabilities() {
    return containerCapabilities();
  },
  availability() {
    if (!opensslAvailable()) {
      return { available: false, reason: 'openssl is not on PATH (needed for the TLS listeners)' };
    }
    return dockerAvailability();
  },
  start: () => startMosquittoContainer(),
  lacks: (need) =>
    lacksFrom('Mosquitto', containerCapabilities(), {
      takeoverReason: versionLack(TAKEOVER_REASON_LACK),
      persistence: versionLack(PERSISTENCE_LACK),
    })(need),
  // CI requires the container tier and builds an image with a newer Mosquitto for it: a broker that
  // cannot test the takeover reason code there is a broken setup, not a reason to skip.
  mustHaveWhenRequired: (need) => need === 'takeoverReason',
};
