/**
 * One named broker connection of one MCP session: an mqtt.js client wrapped so that
 *   - connecting either succeeds or fails with a classified MqttToolError and leaves nothing running
 *     (the MQTTX server's failed connects kept reconnecting and later crashed the process);
 *   - after a successful connect, a lost broker is re-dialled with backoff and every subscription is
 *     restored, while operations fail clearly with NOT_CONNECTED meanwhile; the backoff starts over
 *     only once a link stays up, and a client id taken over by another client ends the reconnects
 *     (link-health.ts);
 *   - received messages go to a bounded buffer that holds the broker back when full
 *     (message-buffer.ts), and to the client as notifications at a rate it can take
 *     (notification-budget.ts);
 *   - every `error` event has a listener for the client's whole life, so none can kill the process.
 */

import {
  type IClientPublishOptions,
  type IConnackPacket,
  type IPublishPacket,
  type MqttClient,
  connect as mqttConnect,
} from 'mqtt';
import type { Logger } from 'pino';
import { acknowledged, firstConnack } from './broker-io.js';
import { type ConnectRequest, clientOptions, type QoS } from './connect-request.js';
import type {
  ConnectionEvents,
  ConnectionLimits,
  ConnectionState,
  ConnectionStatus,
  PublishOptions,
  Subscription,
  TakeoverStatus,
} from './connection-types.js';
import { MqttErrorCode, MqttToolError } from './errors.js';
import { LinkHealth, type TakeoverEvidence, takeoverError } from './link-health.js';
import { MessageBuffer, type ReceivedMessage } from './message-buffer.js';
import { NotificationBudget, skippedNotice } from './notification-budget.js';
import { encodePayload } from './payload.js';
import { messageProperties } from './received-message.js';

export type { BrokerProtocol, ConnectRequest, QoS, WillMessage } from './connect-request.js';
export type {
  ConnectionEvents,
  ConnectionLimits,
  ConnectionNotice,
  ConnectionState,
  ConnectionStatus,
  PublishOptions,
  Subscription,
  TakeoverStatus,
} from './connection-types.js';

/** Messages taken from the socket in a row before other work (tool calls) gets a turn. */
const MESSAGES_PER_TURN = 128;

export class BrokerConnection {
  private state: ConnectionState = 'connected';
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly buffer: MessageBuffer;
  private readonly budget: NotificationBudget;
  private readonly health: LinkHealth;
  private readonly lostListeners = new Set<() => void>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  private reconnects = 0;
  private connectedAt = new Date();
  private lastError: string | undefined;
  private seq = 0;
  private sinceTurn = 0;
  /** Counts CONNACKs after a loss, so a re-subscribe outrun by another loss does not report success. */
  private generation = 0;
  private takeover: TakeoverStatus | undefined;
  /** Whether a tool call was already told of the takeover. */
  private takeoverReported = false;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly client: MqttClient,
    readonly request: ConnectRequest,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly events: ConnectionEvents,
  ) {
    // A pause longer than the keep-alive would let mqtt.js miss the PINGRESP queued behind it.
    const keepaliveCap = request.keepalive > 0 ? (request.keepalive * 1000) / 4 : Number.POSITIVE_INFINITY;
    this.buffer = new MessageBuffer({
      maxMessages: limits.maxBufferedMessages,
      maxBytes: limits.maxBufferedBytes,
      pauseMs: Math.min(limits.bufferFullPauseMs, keepaliveCap),
    });
    this.budget = new NotificationBudget(limits.maxNotificationsPerSecond);
    this.health = new LinkHealth(limits);
  }

  /**
   * Connects, or throws a classified MqttToolError having ended the client. `signal` aborts the
   * attempt (session closed, request cancelled).
   */
  static async open(
    req: ConnectRequest,
    limits: ConnectionLimits,
    log: Logger,
    events: ConnectionEvents,
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
    // mqtt.js takes the next packet from the socket only once this calls back: the hook for
    // backpressure and for letting tool calls in during a burst.
    client.handleMessage = (_packet, callback) => {
      if (connection === undefined) callback();
      else connection.admit(callback);
    };
    try {
      await firstConnack(client, req, signal);
    } catch (err) {
      // Nothing may keep running after a failed connect: no reconnect timer, no socket.
      client.end(true);
      throw err;
    }
    connection = new BrokerConnection(client, req, limits, log, events);
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
    this.health.linkUp();
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
      this.health.disconnectReason(packet.reasonCode);
    });
  }

  private receive(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.state === 'closed' || this.state === 'taken-over') return;
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
    this.buffer.push(message, payload.length + Buffer.byteLength(topic));
    const decision = this.budget.take();
    this.events.message(message, decision === 'push');
    if (decision === 'skip-first') {
      this.events.notice?.({
        connection: this.name,
        event: 'notifications-skipped',
        message: skippedNotice(this.name, this.budget.status().perSecond),
      });
    }
  }

  /** Lets mqtt.js take the next packet: after room was made when full, else now or on the next turn. */
  private admit(next: () => void): void {
    const pause = this.buffer.makeRoom();
    if (pause !== undefined) {
      void pause.then(next);
      return;
    }
    if (++this.sinceTurn >= MESSAGES_PER_TURN) {
      this.sinceTurn = 0;
      setImmediate(next);
      return;
    }
    next();
  }

  private lost(): void {
    if (this.state === 'closed' || this.state === 'taken-over') return;
    this.generation++;
    const takeover = this.health.linkDown();
    if (takeover !== undefined) {
      this.takenOver(takeover);
      return;
    }
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

  /** Stops for good: the id belongs to another client now. What is buffered stays readable. */
  private takenOver(evidence: TakeoverEvidence): void {
    this.state = 'taken-over';
    this.takeover = { ...evidence, at: new Date().toISOString() };
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    for (const notify of [...this.lostListeners]) notify();
    this.buffer.close();
    this.health.close();
    this.client.end(true);
    const error = takeoverError('go on', this.identity(), evidence);
    this.log.warn(
      { connection: this.name, clientId: this.request.clientId, ...evidence },
      'another client took the client id; stopped reconnecting',
    );
    this.events.notice?.({ connection: this.name, event: 'client-id-taken-over', message: error.message });
  }

  private get ackScope() {
    return { name: this.name, timeoutMs: this.limits.operationTimeoutMs, lostListeners: this.lostListeners };
  }

  private identity() {
    const { clientId, host, port } = this.request;
    return { name: this.name, clientId, host, port };
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.state !== 'reconnecting') return;
    const delay = this.health.nextDelayMs();
    this.reconnectAttempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state === 'reconnecting') this.client.reconnect();
    }, delay);
  }

  private regained(connack: IConnackPacket): void {
    if (this.state !== 'reconnecting') return;
    this.health.linkUp();
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
        { connection: this.name, attempts: this.reconnectAttempts, sessionPresent: connack.sessionPresent },
        'broker connection restored',
      );
      this.reconnectAttempts = 0;
    })();
  }

  private async resubscribe(): Promise<void> {
    for (const sub of [...this.subscriptions.values()]) {
      try {
        const grants = await acknowledged(this.ackScope, `re-subscribe to '${sub.topic}'`, () =>
          this.client.subscribeAsync({ [sub.topic]: { qos: sub.qos } }),
        );
        const granted = grants[0]?.qos;
        if (granted !== undefined) sub.grantedQos = granted;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.log.warn({ connection: this.name, topic: sub.topic }, 're-subscribe failed');
      }
    }
  }

  private requireConnected(what: string): void {
    if (this.state === 'closed') {
      throw new MqttToolError(MqttErrorCode.UnknownConnection, `Connection '${this.name}' is closed`, {
        details: { connection: this.name },
      });
    }
    if (this.state === 'taken-over' && this.takeover !== undefined) {
      this.takeoverReported = true;
      throw takeoverError(what, this.identity(), this.takeover);
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

  async subscribe(topic: string, qos: QoS): Promise<Subscription> {
    const what = `subscribe to '${topic}'`;
    this.requireConnected(what);
    const grants = await acknowledged(this.ackScope, what, () =>
      this.client.subscribeAsync({ [topic]: { qos } }),
    );
    const grantedQos = grants[0]?.qos ?? qos;
    if (grantedQos >= 0x80) {
      throw new MqttToolError(
        MqttErrorCode.SubscribeRefused,
        `Cannot ${what}: the broker refused (reason code ${grantedQos})`,
        { details: { connection: this.name, reasonCode: grantedQos } },
      );
    }
    const sub: Subscription = { topic, qos, grantedQos };
    this.subscriptions.set(topic, sub);
    return sub;
  }

  async unsubscribe(topic: string): Promise<{ wasSubscribed: boolean }> {
    const what = `unsubscribe from '${topic}'`;
    this.requireConnected(what);
    await acknowledged(this.ackScope, what, () => this.client.unsubscribeAsync(topic));
    const wasSubscribed = this.subscriptions.delete(topic);
    return { wasSubscribed };
  }

  async publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void> {
    const what = `publish to '${topic}'`;
    this.requireConnected(what);
    const publishOptions: IClientPublishOptions = { qos: options.qos, retain: options.retain };
    if (options.properties !== undefined) publishOptions.properties = options.properties;
    await acknowledged(this.ackScope, what, () => this.client.publishAsync(topic, payload, publishOptions));
  }

  /**
   * Takes buffered messages. A taken-over connection still hands out what it buffered, but answers
   * CLIENT_ID_TAKEN_OVER on the first read after the takeover and whenever nothing is left.
   */
  read(filter: string | undefined, limit: number) {
    if (this.takeover !== undefined && (!this.takeoverReported || !this.buffer.has(filter))) {
      this.takeoverReported = true;
      throw takeoverError('read messages', this.identity(), this.takeover);
    }
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
      buffer: this.buffer.status(),
      notifications: this.budget.status(),
      reconnects: this.reconnects,
      reconnectAttempts: this.state === 'reconnecting' ? this.reconnectAttempts : 0,
      backoffAttempt: this.health.status().backoffAttempt,
      reconnectStableMs: this.limits.reconnectStableMs,
    };
    if (this.request.username !== undefined) status.username = this.request.username;
    if (this.state === 'connected') status.connectedAt = this.connectedAt.toISOString();
    if (this.lastError !== undefined) status.lastError = this.lastError;
    if (this.takeover !== undefined) status.takenOver = { ...this.takeover };
    return status;
  }

  /** Disconnects (DISCONNECT when connected) and releases socket, timers and waiters. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const wasConnected = this.state === 'connected' && this.client.connected;
      this.state = 'closed';
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.health.close();
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
