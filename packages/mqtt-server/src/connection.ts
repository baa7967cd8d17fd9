/**
 * One named broker connection of one MCP session: an mqtt.js client wrapped so that
 *   - connecting either succeeds or fails with a classified MqttToolError and leaves nothing running
 *     (the MQTTX server's failed connects kept reconnecting and later crashed the process);
 *   - after a successful connect, a lost broker is re-dialled with exponential backoff and every
 *     subscription is restored, while operations fail clearly with NOT_CONNECTED meanwhile;
 *   - every `error` event has a listener for the client's whole life, so none can kill the process.
 * mqtt.js's own reconnect timer is disabled (`reconnectPeriod: 0`): it retries at a fixed period and
 * would start retrying after a failed first connect.
 */

import {
  type IClientOptions,
  type IClientPublishOptions,
  type IConnackPacket,
  type IPublishPacket,
  type MqttClient,
  connect as mqttConnect,
} from 'mqtt';
import type { Logger } from 'pino';
import { MqttErrorCode, MqttToolError } from './errors.js';
import { MessageBuffer, type MessageProperties, type ReceivedMessage } from './message-buffer.js';
import { encodePayload } from './payload.js';

export type BrokerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';
export type ConnectionState = 'connected' | 'reconnecting' | 'closed';
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

export interface ConnectionLimits {
  maxBufferedMessages: number;
  operationTimeoutMs: number;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
}

export interface Subscription {
  topic: string;
  qos: QoS;
  /** What the broker granted at the last (re)subscribe. */
  grantedQos: number;
}

export interface ConnectionStatus {
  name: string;
  state: ConnectionState;
  broker: { protocol: BrokerProtocol; host: string; port: number };
  clientId: string;
  username?: string;
  protocolVersion: 4 | 5;
  clean: boolean;
  keepalive: number;
  subscriptions: Subscription[];
  buffer: { size: number; capacity: number; dropped: number };
  /** Times the connection was lost and re-established. */
  reconnects: number;
  /** While reconnecting: attempts made since the connection was lost. */
  reconnectAttempts: number;
  connectedAt?: string;
  lastError?: string;
}

export interface PublishOptions {
  qos: QoS;
  retain: boolean;
  properties?: IClientPublishOptions['properties'];
}

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3); mqtt.js names only the MQTT 5 ones. */
const V3_RETURN_CODES: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};
/** MQTT 5 CONNACK reason codes that mean the credentials were refused (section 3.2.2.2). */
const V5_AUTH_CODES = new Set([0x86, 0x87, 0x8c]);
const V3_AUTH_CODES = new Set([4, 5]);

function isTlsErrorCode(code: string): boolean {
  return (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    code.includes('CERT') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'EPROTO'
  );
}

/** Turns whatever mqtt.js or the socket reported during connect into a clear, coded error. */
export function classifyConnectError(err: unknown, req: ConnectRequest): MqttToolError {
  const where = `${req.host}:${req.port}`;
  const e = err as { code?: unknown; message?: string };
  const details = { connection: req.name, host: req.host, port: req.port };
  if (typeof e.code === 'number') {
    const rc = e.code;
    const reason =
      req.protocolVersion === 5
        ? (e.message ?? '').replace(/^Connection refused: /, '')
        : (V3_RETURN_CODES[rc] ?? 'unknown return code');
    const auth = req.protocolVersion === 5 ? V5_AUTH_CODES.has(rc) : V3_AUTH_CODES.has(rc);
    return new MqttToolError(
      auth ? MqttErrorCode.AuthFailed : MqttErrorCode.ConnectRejected,
      auth
        ? `Authentication failed: the broker at ${where} refused the credentials (reason code ${rc}: ${reason})`
        : `The broker at ${where} refused the connection (reason code ${rc}: ${reason})`,
      { cause: err, details: { ...details, reasonCode: rc, reason } },
    );
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = e.message ?? String(err);
  if (code === 'ECONNREFUSED') {
    return new MqttToolError(
      MqttErrorCode.ConnectRefused,
      `Connection refused by ${where}: no broker is listening there`,
      { cause: err, details: { ...details, errno: code } },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
    return new MqttToolError(MqttErrorCode.DnsFailed, `Cannot resolve broker host '${req.host}' (${code})`, {
      cause: err,
      details: { ...details, errno: code },
    });
  }
  if (code !== undefined && isTlsErrorCode(code)) {
    return new MqttToolError(MqttErrorCode.TlsFailed, `TLS handshake with ${where} failed: ${message}`, {
      cause: err,
      details: { ...details, errno: code },
    });
  }
  if (message === 'connack timeout') return connectTimeout(req);
  // A plain-MQTT port answering a TLS client hello just hangs up: say it was the handshake.
  if ((req.protocol === 'mqtts' || req.protocol === 'wss') && /TLS|SSL|secure/i.test(message)) {
    return new MqttToolError(MqttErrorCode.TlsFailed, `TLS handshake with ${where} failed: ${message}`, {
      cause: err,
      details: code === undefined ? details : { ...details, errno: code },
    });
  }
  return new MqttToolError(MqttErrorCode.ConnectFailed, `Could not connect to ${where}: ${message}`, {
    cause: err,
    details: code === undefined ? details : { ...details, errno: code },
  });
}

function connectTimeout(req: ConnectRequest): MqttToolError {
  return new MqttToolError(
    MqttErrorCode.ConnectTimeout,
    `Timed out after ${req.connectTimeoutMs} ms connecting to ${req.host}:${req.port}: no answer from an MQTT broker`,
    { details: { connection: req.name, host: req.host, port: req.port, timeoutMs: req.connectTimeoutMs } },
  );
}

function clientOptions(req: ConnectRequest): IClientOptions {
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

function messageProperties(packet: IPublishPacket): MessageProperties | undefined {
  const p = packet.properties;
  if (p === undefined) return undefined;
  const out: MessageProperties = {};
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) {
    const { payload, payloadEncoding } = encodePayload(p.correlationData);
    out.correlationData = payload;
    out.correlationDataEncoding = payloadEncoding;
  }
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.subscriptionIdentifier !== undefined) out.subscriptionIdentifier = p.subscriptionIdentifier;
  return Object.keys(out).length > 0 ? out : undefined;
}

export class BrokerConnection {
  private state: ConnectionState = 'connected';
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly buffer: MessageBuffer;
  private readonly lostListeners = new Set<() => void>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  private reconnects = 0;
  private connectedAt = new Date();
  private lastError: string | undefined;
  private seq = 0;
  /** Counts CONNACKs after a loss, so a re-subscribe outrun by another loss does not report success. */
  private generation = 0;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly client: MqttClient,
    readonly request: ConnectRequest,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly onMessage: (message: ReceivedMessage) => void,
  ) {
    this.buffer = new MessageBuffer(limits.maxBufferedMessages);
  }

  /**
   * Connects, or throws a classified MqttToolError having ended the client. `signal` aborts the
   * attempt (session closed, request cancelled).
   */
  static async open(
    req: ConnectRequest,
    limits: ConnectionLimits,
    log: Logger,
    onMessage: (message: ReceivedMessage) => void,
    signal?: AbortSignal,
  ): Promise<BrokerConnection> {
    signal?.throwIfAborted();
    const client = mqttConnect(clientOptions(req));
    // Installed first and never removed: mqtt.js emits `error` for socket and protocol failures,
    // and an EventEmitter without an `error` listener throws.
    client.on('error', (err) => {
      log.debug({ err: { message: err.message } }, 'mqtt client error');
    });
    let connection: BrokerConnection | undefined;
    // Messages may arrive right after CONNACK (a resumed session), before open() returns.
    const early: Array<[string, Buffer, IPublishPacket]> = [];
    client.on('message', (topic, payload, packet) => {
      if (connection === undefined) early.push([topic, payload, packet]);
      else connection.receive(topic, payload, packet);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let lastError: unknown;
        const timer = setTimeout(() => finish(connectTimeout(req)), req.connectTimeoutMs);
        const onConnect = () => finish(undefined);
        const onError = (err: Error) => {
          lastError = err;
          // A refused CONNACK and socket errors are final for a first connect.
          finish(classifyConnectError(err, req));
        };
        const onClose = () =>
          finish(
            lastError === undefined
              ? new MqttToolError(
                  MqttErrorCode.ConnectFailed,
                  `The broker at ${req.host}:${req.port} closed the connection before accepting it` +
                    (req.protocolVersion === 5 ? ' (does it support MQTT 5?)' : ''),
                  { details: { connection: req.name, host: req.host, port: req.port } },
                )
              : classifyConnectError(lastError, req),
          );
        const onAbort = () =>
          finish(
            new MqttToolError(
              MqttErrorCode.ConnectFailed,
              'Connect cancelled: the MCP session or request ended',
              {
                details: { connection: req.name },
              },
            ),
          );
        function finish(error: MqttToolError | undefined) {
          clearTimeout(timer);
          client.off('connect', onConnect);
          client.off('error', onError);
          client.off('close', onClose);
          signal?.removeEventListener('abort', onAbort);
          if (error === undefined) resolve();
          else reject(error);
        }
        client.once('connect', onConnect);
        client.on('error', onError);
        client.on('close', onClose);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } catch (err) {
      // Nothing may keep running after a failed connect: no reconnect timer, no socket.
      client.end(true);
      throw err;
    }
    connection = new BrokerConnection(client, req, limits, log, onMessage);
    connection.attach();
    for (const [topic, payload, packet] of early) connection.receive(topic, payload, packet);
    return connection;
  }

  get name(): string {
    return this.request.name;
  }

  get protocolVersion(): 4 | 5 {
    return this.request.protocolVersion;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  private attach(): void {
    this.client.on('error', (err) => {
      this.lastError = err.message;
      // A malformed packet leaves mqtt.js connected with a parser it cannot trust; MQTT says to
      // close the network connection on a protocol error [MQTT-4.8.0-1]. The close then starts a
      // reconnect. Errors carrying a reason code are the broker's answers, handled by mqtt.js.
      if (this.state === 'connected' && typeof (err as { code?: unknown }).code !== 'number') {
        this.client.stream?.destroy();
      }
    });
    this.client.on('close', () => this.lost());
    this.client.on('connect', (connack) => this.regained(connack));
    this.client.on('disconnect', (packet) => {
      // MQTT 5: the broker said why it is closing the connection.
      this.lastError = `broker sent DISCONNECT with reason code ${packet.reasonCode ?? 0}`;
    });
  }

  private receive(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.state === 'closed') return;
    const message: ReceivedMessage = {
      seq: ++this.seq,
      connection: this.name,
      topic,
      ...encodePayload(payload),
      qos: packet.qos,
      retain: packet.retain,
      receivedAt: new Date().toISOString(),
    };
    const properties = messageProperties(packet);
    if (properties !== undefined) message.properties = properties;
    this.buffer.push(message);
    this.onMessage(message);
  }

  private lost(): void {
    if (this.state === 'closed') return;
    this.generation++;
    if (this.state === 'connected') {
      this.state = 'reconnecting';
      this.reconnectAttempts = 0;
      this.log.warn(
        { connection: this.name, lastError: this.lastError },
        'broker connection lost; reconnecting',
      );
      for (const notify of [...this.lostListeners]) notify();
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.state !== 'reconnecting') return;
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: max } = this.limits;
    const base = Math.min(max, initial * 2 ** Math.min(this.reconnectAttempts, 20));
    // +-20% jitter so that many clients of one restarted broker do not return in lockstep.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.reconnectAttempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state === 'reconnecting') this.client.reconnect();
    }, delay);
  }

  private regained(connack: IConnackPacket): void {
    if (this.state !== 'reconnecting') return;
    const generation = ++this.generation;
    void (async () => {
      // A clean session, or a persistent one the broker no longer has, lost every subscription.
      // They are restored before the state says 'connected', so 'connected' means "as before".
      if (this.request.clean || !connack.sessionPresent) await this.resubscribe();
      // Lost again (or closed) while re-subscribing: the next CONNACK starts over.
      if (generation !== this.generation || this.state !== 'reconnecting' || !this.client.connected) return;
      this.state = 'connected';
      this.reconnects++;
      this.connectedAt = new Date();
      this.log.info(
        { connection: this.name, attempts: this.reconnectAttempts },
        'broker connection restored',
      );
      this.reconnectAttempts = 0;
    })();
  }

  private async resubscribe(): Promise<void> {
    for (const sub of [...this.subscriptions.values()]) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no SUBACK in time')), this.limits.operationTimeoutMs);
        });
        const grants = await Promise.race([
          this.client.subscribeAsync({ [sub.topic]: { qos: sub.qos } }),
          timeout,
        ]);
        const granted = grants[0]?.qos;
        if (granted !== undefined) sub.grantedQos = granted;
      } catch (err) {
        this.lastError = `re-subscribing to '${sub.topic}' failed: ${(err as Error).message}`;
        this.log.warn({ connection: this.name, topic: sub.topic }, 're-subscribe failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private requireConnected(what: string): void {
    if (this.state === 'closed') {
      throw new MqttToolError(MqttErrorCode.UnknownConnection, `Connection '${this.name}' is closed`, {
        details: { connection: this.name },
      });
    }
    if (this.state === 'reconnecting') {
      throw new MqttToolError(
        MqttErrorCode.NotConnected,
        `Cannot ${what}: connection '${this.name}' lost the broker at ${this.request.host}:${this.request.port} ` +
          `and is reconnecting (attempt ${this.reconnectAttempts}). Nothing was sent; retry when mqttStatus shows 'connected'.`,
        { details: { connection: this.name, state: this.state, lastError: this.lastError } },
      );
    }
  }

  /** Waits for the broker's answer, bounded by the operation timeout and by losing the connection. */
  private acknowledged<T>(what: string, start: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (error: MqttToolError | undefined, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.lostListeners.delete(onLost);
        if (error !== undefined) reject(error);
        else resolve(value as T);
      };
      const timer = setTimeout(
        () =>
          settle(
            new MqttToolError(
              MqttErrorCode.OperationTimeout,
              `Cannot ${what}: the broker did not acknowledge within ${this.limits.operationTimeoutMs} ms`,
              { details: { connection: this.name } },
            ),
          ),
        this.limits.operationTimeoutMs,
      );
      const onLost = () =>
        settle(
          new MqttToolError(
            MqttErrorCode.ConnectionLost,
            `Cannot ${what}: the connection to the broker was lost before it acknowledged ` +
              '(the broker may or may not have processed it)',
            { details: { connection: this.name } },
          ),
        );
      this.lostListeners.add(onLost);
      start().then(
        (value) => settle(undefined, value),
        (err: unknown) => settle(this.brokerError(what, err)),
      );
    });
  }

  private brokerError(what: string, err: unknown): MqttToolError {
    const e = err as { code?: unknown; message?: string; packet?: { granted?: number[] } };
    const message = e.message ?? String(err);
    if (message === 'No connection to broker' || message === 'Connection closed') {
      return new MqttToolError(
        MqttErrorCode.ConnectionLost,
        `Cannot ${what}: the connection to the broker was lost`,
        {
          cause: err,
          details: { connection: this.name },
        },
      );
    }
    const reasonCode = typeof e.code === 'number' ? e.code : e.packet?.granted?.find((g) => g >= 0x80);
    if (message.startsWith('Subscribe error') || reasonCode !== undefined) {
      const subscribe = what.startsWith('subscribe');
      return new MqttToolError(
        subscribe ? MqttErrorCode.SubscribeRefused : MqttErrorCode.BrokerError,
        `Cannot ${what}: the broker refused${reasonCode === undefined ? '' : ` (reason code ${reasonCode})`}: ${message}`,
        { cause: err, details: { connection: this.name, reasonCode } },
      );
    }
    return new MqttToolError(MqttErrorCode.BrokerError, `Cannot ${what}: ${message}`, {
      cause: err,
      details: { connection: this.name },
    });
  }

  async subscribe(topic: string, qos: QoS): Promise<Subscription> {
    const what = `subscribe to '${topic}'`;
    this.requireConnected(what);
    const grants = await this.acknowledged(what, () => this.client.subscribeAsync({ [topic]: { qos } }));
    const grantedQos = grants[0]?.qos ?? qos;
    if (grantedQos >= 0x80) {
      throw new MqttToolError(
        MqttErrorCode.SubscribeRefused,
        `Cannot ${what}: the broker refused (reason code ${grantedQos})`,
        {
          details: { connection: this.name, reasonCode: grantedQos },
        },
      );
    }
    const sub: Subscription = { topic, qos, grantedQos };
    this.subscriptions.set(topic, sub);
    return sub;
  }

  async unsubscribe(topic: string): Promise<{ wasSubscribed: boolean }> {
    const what = `unsubscribe from '${topic}'`;
    this.requireConnected(what);
    await this.acknowledged(what, () => this.client.unsubscribeAsync(topic));
    const wasSubscribed = this.subscriptions.delete(topic);
    return { wasSubscribed };
  }

  async publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void> {
    const what = `publish to '${topic}'`;
    this.requireConnected(what);
    const publishOptions: IClientPublishOptions = { qos: options.qos, retain: options.retain };
    if (options.properties !== undefined) publishOptions.properties = options.properties;
    await this.acknowledged(what, () => this.client.publishAsync(topic, payload, publishOptions));
  }

  read(filter: string | undefined, limit: number) {
    return this.buffer.take(filter, limit);
  }

  waitForMessage(filter: string | undefined, ms: number, signal?: AbortSignal): Promise<void> {
    return this.buffer.waitFor(filter, ms, signal);
  }

  status(): ConnectionStatus {
    const status: ConnectionStatus = {
      name: this.name,
      state: this.state,
      broker: { protocol: this.request.protocol, host: this.request.host, port: this.request.port },
      clientId: this.request.clientId,
      protocolVersion: this.request.protocolVersion,
      clean: this.request.clean,
      keepalive: this.request.keepalive,
      subscriptions: [...this.subscriptions.values()].map((s) => ({ ...s })),
      buffer: { size: this.buffer.size, capacity: this.buffer.capacity, dropped: this.buffer.dropped },
      reconnects: this.reconnects,
      reconnectAttempts: this.state === 'reconnecting' ? this.reconnectAttempts : 0,
    };
    if (this.request.username !== undefined) status.username = this.request.username;
    if (this.state === 'connected') status.connectedAt = this.connectedAt.toISOString();
    if (this.lastError !== undefined) status.lastError = this.lastError;
    return status;
  }

  /** Disconnects (DISCONNECT when connected) and releases socket, timers and waiters. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const wasConnected = this.state === 'connected' && this.client.connected;
      this.state = 'closed';
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      for (const notify of [...this.lostListeners]) notify();
      this.buffer.close();
      if (!wasConnected) {
        // No socket is open (or one is still dialling): nothing to say goodbye on.
        this.client.end(true);
        return;
      }
      // Unacknowledged messages would make mqtt.js wait for them before DISCONNECT.
      const force = Object.keys(this.client.outgoing).length > 0;
      await new Promise<void>((resolve) => {
        // A broker that never answers must not hold the session open.
        const fallback = setTimeout(() => {
          this.client.stream?.destroy();
          resolve();
        }, 2000);
        this.client.end(force, {}, () => {
          clearTimeout(fallback);
          resolve();
        });
      });
    })();
    return this.closed;
  }
}
