/**
 * The process tier's broker: a real Mosquitto 2 started from a config written to a temp dir, with
 * one listener of each kind on random free ports:
 *   mqtt (anonymous) | mqtt (password file) | mqtts | mqtts requiring a client certificate | ws | wss
 * Mosquitto speaks MQTT 3.1.1 and 5 on all of them.
 */
import { execFileSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lacksFrom } from '../../testing/tiers.js';
import { type FaultSignal, findBinary, freePort, ServiceProcess, withFreshPorts } from '../process.js';
import { makeTempDir } from '../run-scope.js';
import { createTestPki, opensslAvailable, type TestPki } from './tls.js';
import {
  listener,
  type MqttBrokerCapabilities,
  type MqttBrokerProvider,
  type MqttBrokerTarget,
} from './types.js';

const HOST = '127.0.0.1';
/**
 * What every Mosquitto 2 here can do; `persistence` and `takeoverReason` depend on the version
 * (mosquittoCapabilities).
 */
export const CAPABILITIES: MqttBrokerCapabilities = {
  mqtt5: true,
  tls: true,
  ws: true,
  restart: true,
  persistence: true,
  takeoverReason: false,
};

/** The version in `mosquitto -h`'s first line ("mosquitto version 2.0.21"), e.g. [2, 0, 21]. */
export function parseMosquittoVersion(output: string): number[] | undefined {
  const match = /mosquitto version (\d+)\.(\d+)\.(\d+)/.exec(output);
  return match === null ? undefined : match.slice(1, 4).map(Number);
}

/** Mosquitto sends DISCONNECT 0x8E to a taken-over MQTT 5 connection from 2.0.15 on. */
export function sendsTakeoverReason(version: ReadonlyArray<number>): boolean {
  return compareVersions(version, [2, 0, 15]) >= 0;
}

/**
 * Whether this Mosquitto, run with `per_listener_settings true` (which mosquittoConfig needs for
 * its password-only listener), queues messages for a disconnected persistent session. From 2.0.12
 * it clears a client's listener on disconnect and then denies it every message as an ACL failure
 * (eclipse-mosquitto/mosquitto#2618, #2526; fixed on the 2.0 fixes branch after 2.0.22), so a
 * persistent session gets nothing of what was published while it was away.
 */
export function queuesForOfflineSessions(version: ReadonlyArray<number>): boolean {
  return compareVersions(version, [2, 0, 12]) < 0 || compareVersions(version, [2, 0, 22]) > 0;
}

function compareVersions(a: ReadonlyArray<number>, b: ReadonlyArray<number>): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A Mosquitto's capabilities by its version; unknown, what every Mosquitto 2 does. */
export function mosquittoCapabilities(version: ReadonlyArray<number> | undefined): MqttBrokerCapabilities {
  if (version === undefined) return CAPABILITIES;
  return {
    ...CAPABILITIES,
    persistence: queuesForOfflineSessions(version),
    takeoverReason: sendsTakeoverReason(version),
  };
}

/** The PATH's `mosquitto -h` version; undefined when it cannot be run. */
function mosquittoVersion(): number[] | undefined {
  const binary = findBinary('mosquitto');
  if (binary === undefined) return undefined;
  let output: string;
  try {
    output = execFileSync(binary, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // Some versions exit non-zero after printing the usage.
    output = String((err as { stdout?: unknown }).stdout ?? '');
  }
  return parseMosquittoVersion(output);
}

let processCapabilitiesCache: MqttBrokerCapabilities | undefined;
/** The process tier's Mosquitto, by its version. */
export function processCapabilities(): MqttBrokerCapabilities {
  processCapabilitiesCache ??= mosquittoCapabilities(mosquittoVersion());
  return processCapabilitiesCache;
}

export const TAKEOVER_REASON_LACK =
  'this Mosquitto closes a taken-over MQTT 5 connection without DISCONNECT 0x8E (sent since 2.0.15)';
export const PERSISTENCE_LACK =
  'this Mosquitto (2.0.12 to 2.0.22) with per_listener_settings queues nothing for a disconnected persistent session (eclipse-mosquitto/mosquitto#2618)';

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

export type MosquittoPorts = Record<'mqtt' | 'password' | 'mqtts' | 'mutualTls' | 'ws' | 'wss', number>;

/**
 * The config both Mosquitto tiers run: one listener of each kind. `bind` is the address of the
 * plain and TLS listeners (the process tier's 127.0.0.1; inside a container, every interface, the
 * published ports being bound to 127.0.0.1 on the host instead).
 */
export function mosquittoConfig(options: {
  ports: MosquittoPorts;
  bind?: string;
  files: { passwd: string; caCert: string; serverCert: string; serverKey: string };
  /** Directory (writable by the broker) where a clean shutdown saves sessions and retained messages. */
  persistenceDir: string;
}): string {
  const { ports, files } = options;
  const at = options.bind === undefined ? '' : ` ${options.bind}`;
  const certs = [`certfile ${files.serverCert}`, `keyfile ${files.serverKey}`];
  const lines = [
    'per_listener_settings true',
    // Saved on a clean shutdown only (autosave_interval 0), so what survives a restart depends on
    // the signal alone: SIGTERM keeps sessions and retained messages, SIGKILL is a crash.
    'persistence true',
    `persistence_location ${options.persistenceDir.replace(/\/?$/, '/')}`,
    'autosave_interval 0',
    // Above Mosquitto's default of 1000, so that a test's queue for an offline client is not cut.
    'max_queued_messages 100000',
    'log_dest stderr',
    // No pid_file: as root Mosquitto drops to user `mosquitto` before writing it.
    `listener ${ports.mqtt}${at}`,
    'allow_anonymous true',
    `listener ${ports.password}${at}`,
    'allow_anonymous false',
    `password_file ${files.passwd}`,
    `listener ${ports.mqtts}${at}`,
    'allow_anonymous true',
    ...certs,
    `listener ${ports.mutualTls}${at}`,
    'allow_anonymous true',
    `cafile ${files.caCert}`,
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
  return `${lines.join('\n')}\n`;
}

/** The target over a Mosquitto with `mosquittoConfig`'s listeners, whichever tier runs it. */
export function mosquittoTarget(options: {
  tier: 'process' | 'container';
  capabilities: MqttBrokerCapabilities;
  host: string;
  ports: MosquittoPorts;
  credentials: { username: string; password: string };
  pki: TestPki;
  down(signal: FaultSignal): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}): MqttBrokerTarget {
  const { host, ports } = options;
  const mqtt = listener('mqtt', host, ports.mqtt);
  let stopped = false;
  return {
    tier: options.tier,
    implementation: 'mosquitto',
    capabilities: options.capabilities,
    host,
    port: mqtt.port,
    url: mqtt.url,
    listeners: {
      mqtt,
      password: listener('mqtt', host, ports.password, { requiresPassword: true }),
      mqtts: listener('mqtts', host, ports.mqtts),
      mutualTls: listener('mqtts', host, ports.mutualTls, { requiresClientCertificate: true }),
      ws: listener('ws', host, ports.ws),
      wss: listener('wss', host, ports.wss),
    },
    credentials: options.credentials,
    tls: { ca: options.pki.caCert, clientCert: options.pki.clientCert, clientKey: options.pki.clientKey },
    // SIGKILL by default: a crash, not a goodbye; clients learn of it from the dropped sockets.
    down: (signal = 'SIGKILL') => options.down(signal),
    up: () => options.up(),
    async restart(signal = 'SIGKILL') {
      await options.down(signal);
      await options.up();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await options.stop();
    },
  };
}

export async function startMosquittoBroker(): Promise<MqttBrokerTarget> {
  const binary = findBinary('mosquitto');
  if (binary === undefined) throw new Error('mosquitto is not on PATH');
  const dir = await makeTempDir('bastion-mosquitto-');
  try {
    const pki = await createTestPki(dir);
    const credentials = { username: 'bastion', password: randomBytes(12).toString('hex') };
    const passwd = join(dir, 'passwd');
    await writeFile(passwd, `${mosquittoPasswordLine(credentials.username, credentials.password)}\n`);
    // The listeners' ports are picked afresh if one was taken before Mosquitto bound it.
    const { ports, service } = await withFreshPorts(async () => {
      const ports: MosquittoPorts = {
        mqtt: await freePort(),
        password: await freePort(),
        mqtts: await freePort(),
        mutualTls: await freePort(),
        ws: await freePort(),
        wss: await freePort(),
      };
      const configFile = join(dir, 'mosquitto.conf');
      const persistenceDir = join(dir, 'data');
      await mkdir(persistenceDir, { recursive: true });
      await writeFile(
        configFile,
        mosquittoConfig({
          ports,
          bind: HOST,
          files: {
            passwd,
            caCert: pki.files.caCert,
            serverCert: pki.files.serverCert,
            serverKey: pki.files.serverKey,
          },
          persistenceDir,
        }),
      );
      // Started as root, Mosquitto reads the password file and keys as user `mosquitto`: the
      // directory must be traversable and the files readable by it. All of it is throwaway.
      await chmod(dir, 0o755);
      for (const name of await readdir(dir)) await chmod(join(dir, name), 0o644);
      // ... and the persistence directory writable by it (throwaway, inside this run's temp dir).
      await chmod(persistenceDir, 0o777);
      const { mqtt, ...others } = ports;
      const service = new ServiceProcess({
        name: 'mosquitto',
        command: binary,
        args: ['-c', configFile],
        port: mqtt,
        // All listeners open together; wait for each so no test races the slowest.
        morePorts: Object.values(others),
        readyLine: /mosquitto version \S+ running/,
        host: HOST,
      });
      await service.start();
      return { ports, service };
    });
    return mosquittoTarget({
      tier: 'process',
      capabilities: processCapabilities(),
      host: HOST,
      ports,
      credentials,
      pki,
      down: (signal) => service.kill(signal),
      async up() {
        if (service.pid === undefined) await service.start();
      },
      async stop() {
        await service.stop();
        await rm(dir, { recursive: true, force: true });
      },
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export const processMqttBrokerProvider: MqttBrokerProvider = {
  kind: 'mqtt-broker',
  tier: 'process',
  implementation: 'mosquitto',
  get capabilities() {
    return processCapabilities();
  },
  availability: mosquittoAvailability,
  start: startMosquittoBroker,
  lacks: (need) =>
    lacksFrom('Mosquitto', processCapabilities(), {
      takeoverReason: TAKEOVER_REASON_LACK,
      persistence: PERSISTENCE_LACK,
    })(need),
};
