/**
 * What mqttConnect asks for, and how it becomes mqtt.js client options. mqtt.js's own reconnect
 * timer is disabled (`reconnectPeriod: 0`): it retries at a fixed period and would start retrying
 * after a failed first connect; BrokerConnection reconnects with backoff instead.
 */
import type { IClientOptions } from 'mqtt';

export type BrokerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';
export type QoS = 0 | 1 | 2;

export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
}

export interface ConnectRequest {
  name: string;
  host: string;
  port: number;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  protocol: BrokerProtocol;
  protocolVersion: 4 | 5;
  clean: boolean;
  keepalive: number;
  connectTimeoutMs: number;
  /** WebSocket path (ws/wss), default `/mqtt`. */
  path?: string | undefined;
  will?: WillMessage | undefined;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } | undefined;
}

export function clientOptions(req: ConnectRequest): IClientOptions {
  const options: IClientOptions = {
    protocol: req.protocol,
    host: req.host,
    port: req.port,
    clientId: req.clientId,
    protocolVersion: req.protocolVersion,
    clean: req.clean,
    keepalive: req.keepalive,
    connectTimeout: req.connectTimeoutMs,
    // Reconnects are ours (backoff, resubscribe, state); see the file comment.
    reconnectPeriod: 0,
    resubscribe: false,
    // A QoS 0 publish while the link is down fails instead of waiting in a hidden queue.
    queueQoSZero: false,
    // mqtt.js logs through `debug` on every packet; with nobody listening that still cost the burst
    // of issue 13 a tenth of the server's CPU.
    log: () => {},
  };
  if (req.username !== undefined) options.username = req.username;
  if (req.password !== undefined) options.password = req.password;
  if (req.path !== undefined) options.path = req.path;
  if (req.will !== undefined) options.will = { ...req.will };
  if (req.tls !== undefined) {
    if (req.tls.ca !== undefined) options.ca = req.tls.ca;
    if (req.tls.cert !== undefined) options.cert = req.tls.cert;
    if (req.tls.key !== undefined) options.key = req.tls.key;
    options.rejectUnauthorized = req.tls.rejectUnauthorized;
  }
  return options;
}
