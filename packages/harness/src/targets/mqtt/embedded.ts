/**
 * The embedded tier's broker: Aedes in this process, on random loopback ports. It speaks MQTT 3.1.1
 * only, over plain TCP (no MQTT 5, TLS or WebSocket here), with an anonymous listener and one that
 * requires the target's credentials.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { lacksFrom } from '../../testing/tiers.js';
import {
  listener,
  type MqttBrokerCapabilities,
  type MqttBrokerProvider,
  type MqttBrokerTarget,
} from './types.js';

const HOST = '127.0.0.1';
const CAPABILITIES: MqttBrokerCapabilities = {
  mqtt5: false,
  tls: false,
  ws: false,
  restart: true,
  persistence: false,
  takeoverReason: false,
};

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startAedesBroker(): Promise<MqttBrokerTarget> {
  const credentials = { username: 'bastion', password: randomBytes(12).toString('hex') };
  let ports = { mqtt: 0, password: 0 };
  let running: { aedes: Aedes; servers: Server[] } | undefined;

  const start = async () => {
    const aedes = await Aedes.createBroker({
      // One broker, two listeners: only connections that arrive on the password port must log in.
      authenticate(client, username, password, done) {
        const localPort = (client.conn as Socket).localPort;
        if (localPort !== ports.password) return done(null, true);
        const ok = username === credentials.username && password?.toString() === credentials.password;
        if (ok) return done(null, true);
        // CONNACK return code 4, bad user name or password (MQTT 3.1.1 section 3.2.2.3).
        done(
          Object.assign(new Error('bad user name or password'), { returnCode: 4 }) as AuthenticateError,
          false,
        );
      },
    });
    const plain = createServer(aedes.handle);
    const secured = createServer(aedes.handle);
    try {
      ports = { mqtt: await listen(plain, ports.mqtt), password: await listen(secured, ports.password) };
    } catch (err) {
      await Promise.all([close(plain), close(secured)]);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw err;
    }
    running = { aedes, servers: [plain, secured] };
  };

  const halt = async () => {
    const current = running;
    running = undefined;
    if (current === undefined) return;
    // Stop accepting first: a client dialling in while Aedes closes would be handed to a closed
    // broker and wait for a CONNACK that never comes. Then closing Aedes ends its clients' sockets,
    // which lets the servers finish closing.
    const closed = Promise.all(current.servers.map(close));
    await new Promise<void>((resolve) => current.aedes.close(() => resolve()));
    await closed;
  };

  await start();
  const mqtt = listener('mqtt', HOST, ports.mqtt);
  return {
    tier: 'embedded',
    implementation: 'aedes',
    capabilities: CAPABILITIES,
    host: HOST,
    port: mqtt.port,
    url: mqtt.url,
    listeners: { mqtt, password: listener('mqtt', HOST, ports.password, { requiresPassword: true }) },
    credentials,
    // No process to signal: SIGKILL and SIGTERM both close the listeners and every client socket.
    down: () => halt(),
    async up() {
      if (running === undefined) await start();
    },
    async restart() {
      await halt();
      await start();
    },
    stop: halt,
  };
}

export const embeddedMqttBrokerProvider: MqttBrokerProvider = {
  kind: 'mqtt-broker',
  tier: 'embedded',
  implementation: 'aedes',
  capabilities: CAPABILITIES,
  availability: () => ({ available: true }),
  start: startAedesBroker,
  lacks: lacksFrom('Aedes (embedded)', CAPABILITIES, {
    mqtt5: 'Aedes speaks MQTT 3.1.1 only',
    tls: 'the embedded broker has no TLS listeners',
    ws: 'the embedded broker has no WebSocket listeners',
    persistence: 'Aedes keeps sessions in memory: a restart starts a new broker with none',
    takeoverReason: 'Aedes sends no MQTT 5 DISCONNECT',
  }),
};
