/** What a test gets when it asks for an MQTT broker, whichever tier provides it. */
import type { Stoppable, TargetProvider, Tier } from '../../testing/tiers.js';
import type { FaultSignal } from '../process.js';

export type MqttTransport = 'mqtt' | 'mqtts' | 'ws' | 'wss';

/** What a broker kind can do, known before it starts, so tests can be declared only where they apply. */
export interface MqttBrokerCapabilities {
  /** MQTT 5 (properties, reason codes); every broker here speaks 3.1.1. */
  mqtt5: boolean;
  /** mqtts listeners (server-authenticated, and one requiring a client certificate). */
  tls: boolean;
  /** MQTT over WebSocket listeners (ws, and wss when `tls` too). */
  ws: boolean;
  /** `down()`/`up()`/`restart()`: the harness owns the broker and can kill and start it. */
  restart: boolean;
  /**
   * Persistent sessions (clean: false) and retained messages survive a clean restart
   * (`restart('SIGTERM')`): the broker saves them on shutdown and loads them when it comes back.
   */
  persistence: boolean;
  /**
   * Tells an MQTT 5 client whose session another client took over why it is disconnected: DISCONNECT
   * with reason code 0x8E [MQTT-3.1.4-3]. Mosquitto does since 2.0.15; 2.0.11 (Debian 12) closes the
   * connection without it (eclipse-mosquitto/mosquitto#2340, #2607).
   */
  takeoverReason: boolean;
}

export type MqttCapability = keyof MqttBrokerCapabilities;

/** One listening socket of the broker. */
export interface MqttListener {
  protocol: MqttTransport;
  host: string;
  port: number;
  /** e.g. `mqtt://127.0.0.1:41883`, `wss://127.0.0.1:41886/mqtt` */
  url: string;
  /** Anonymous clients are refused; use the target's `credentials`. */
  requiresPassword: boolean;
  /** The TLS handshake needs a client certificate signed by the target's CA (mutual TLS). */
  requiresClientCertificate: boolean;
}

export interface MqttListeners {
  /** Plain MQTT, anonymous. */
  mqtt: MqttListener;
  /** Plain MQTT, user name and password required (`credentials`). */
  password: MqttListener;
  /** TLS with the target's CA, anonymous. Present when `capabilities.tls`. */
  mqtts?: MqttListener;
  /** TLS that requires a client certificate (`tls.clientCert`/`clientKey`). Present when `capabilities.tls`. */
  mutualTls?: MqttListener;
  /** MQTT over WebSocket. Present when `capabilities.ws`. */
  ws?: MqttListener;
  /** MQTT over secure WebSocket. Present when `capabilities.ws` and `capabilities.tls`. */
  wss?: MqttListener;
}

/** Throwaway PEM material made for one target (never reused, never trusted elsewhere). */
export interface MqttTlsMaterial {
  /** The CA that signed the broker's certificate (CN localhost, SAN 127.0.0.1 and localhost). */
  ca: string;
  /** A client certificate and key the mutual-TLS listener accepts. */
  clientCert: string;
  clientKey: string;
}

/** 'external': a broker someone else runs, of whatever make. */
export type MqttBrokerImplementation = 'aedes' | 'mosquitto' | 'external';

export interface MqttBrokerTarget extends Stoppable {
  readonly tier: Tier;
  readonly implementation: MqttBrokerImplementation;
  readonly capabilities: MqttBrokerCapabilities;
  /** Always a loopback address. */
  readonly host: string;
  /** The anonymous plain-MQTT listener's port and URL (shorthands for `listeners.mqtt`). */
  readonly port: number;
  readonly url: string;
  readonly listeners: MqttListeners;
  /** The user the `password` listener accepts. */
  readonly credentials: { username: string; password: string };
  /** Present when `capabilities.tls`. */
  readonly tls?: MqttTlsMaterial;
  /**
   * Ends the broker; ports and config are kept. SIGKILL (the default) is a crash: clients see their
   * connections drop; SIGTERM is a clean shutdown. Where `capabilities.persistence`, a clean shutdown
   * saves retained messages and persistent sessions with their queued messages, and `up()` restores
   * them; a crash loses what changed since the last clean shutdown. Elsewhere both lose them. The
   * embedded broker has no process to signal: both close it.
   * Throws where `capabilities.restart` is false.
   */
  down(signal?: FaultSignal): Promise<void>;
  /** Starts a broker that is down again, on the same ports. */
  up(): Promise<void>;
  /** `down(signal)` then `up()`. */
  restart(signal?: FaultSignal): Promise<void>;
  /** Stops the broker and removes what it wrote. Safe to call twice. */
  stop(): Promise<void>;
}

export interface MqttBrokerProvider extends TargetProvider<MqttBrokerTarget, MqttCapability> {
  readonly kind: 'mqtt-broker';
  readonly implementation: MqttBrokerImplementation;
  readonly capabilities: MqttBrokerCapabilities;
}

export function listener(
  protocol: MqttTransport,
  host: string,
  port: number,
  options: { requiresPassword?: boolean; requiresClientCertificate?: boolean } = {},
): MqttListener {
  const path = protocol === 'ws' || protocol === 'wss' ? '/mqtt' : '';
  return {
    protocol,
    host,
    port,
    url: `${protocol}://${host}:${port}${path}`,
    requiresPassword: options.requiresPassword ?? false,
    requiresClientCertificate: options.requiresClientCertificate ?? false,
  };
}
