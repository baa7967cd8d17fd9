/**
 * The broker connections of one MCP session, by name. A session sees only its own registry, and
 * closing the session closes every connection in it (and cancels any still being opened).
 */
import type { Logger } from 'pino';
import type { MqttServerConfig } from './config.js';
import {
  BrokerConnection,
  type ConnectionLimits,
  type ConnectionNotice,
  type ConnectionState,
  type ConnectRequest,
} from './connection.js';
import { MqttErrorCode, MqttToolError } from './errors.js';
import type { ReceivedMessage } from './message-buffer.js';

export interface ConnectionRegistryOptions extends ConnectionLimits {
  maxConnections: number;
  logger: Logger;
  /** Every received message; `push` says whether it is within the connection's notification budget. */
  onMessage(message: ReceivedMessage, push: boolean): void;
  /** Notifications held back, a client id taken over: for the client to hear of unasked. */
  onNotice?(notice: ConnectionNotice): void;
}

/** Every connection limit from the server's config, so that a new one needs no change at the caller. */
export function connectionLimits(config: MqttServerConfig): ConnectionLimits & { maxConnections: number } {
  return {
    maxConnections: config.maxConnectionsPerSession,
    maxBufferedMessages: config.maxBufferedMessages,
    maxBufferedBytes: config.maxBufferedBytes,
    bufferFullPauseMs: config.bufferFullPauseMs,
    maxNotificationsPerSecond: config.maxNotificationsPerSecond,
    operationTimeoutMs: config.operationTimeoutMs,
    reconnectInitialDelayMs: config.reconnectInitialDelayMs,
    reconnectMaxDelayMs: config.reconnectMaxDelayMs,
    reconnectStableMs: config.reconnectStableMs,
  };
}

/** The connection a connect of the same name closed. */
export interface ReplacedConnection {
  host: string;
  port: number;
  clientId: string;
  state: ConnectionState;
}

export interface OpenResult {
  connection: BrokerConnection;
  /** A connection of the same name was closed to make way (the original server's behaviour). */
  replaced: boolean;
  /** What it was connected to, when `replaced`. */
  previous?: ReplacedConnection;
}

function describe(connection: BrokerConnection): ReplacedConnection {
  const { host, port, clientId } = connection.request;
  return { host, port, clientId, state: connection.status().state };
}

export class ConnectionRegistry {
  private readonly connections = new Map<string, BrokerConnection>();
  /** Connects in flight, so that closeAll can cancel them and the limit counts them. */
  private readonly opening = new Map<AbortController, string>();
  private closed = false;

  constructor(private readonly options: ConnectionRegistryOptions) {}

  /**
   * Opens `request.name`, replacing a connection of that name. The old one is closed first: with
   * the same client id both would otherwise take the session over from each other forever.
   */
  async open(request: ConnectRequest, signal?: AbortSignal): Promise<OpenResult> {
    this.assertOpen();
    const previous = this.connections.get(request.name);
    let replaced = previous === undefined ? undefined : describe(previous);
    if (previous !== undefined) {
      this.connections.delete(request.name);
      await previous.close();
    }
    if (this.connections.size + this.opening.size >= this.options.maxConnections) {
      throw new MqttToolError(
        MqttErrorCode.TooManyConnections,
        `This session already has ${this.options.maxConnections} broker connections open; disconnect one first`,
        { details: { connection: request.name, max: this.options.maxConnections } },
      );
    }
    const abort = new AbortController();
    this.opening.set(abort, request.name);
    const cancel = signal === undefined ? abort.signal : AbortSignal.any([abort.signal, signal]);
    let connection: BrokerConnection;
    try {
      connection = await BrokerConnection.open(
        request,
        this.options,
        this.options.logger,
        {
          message: (message, push) => this.options.onMessage(message, push),
          notice: (notice) => this.options.onNotice?.(notice),
        },
        cancel,
      );
    } finally {
      this.opening.delete(abort);
    }
    if (this.closed) {
      await connection.close();
      this.assertOpen();
    }
    // Two concurrent connects of one name: the later one wins, the earlier is closed.
    const raced = this.connections.get(request.name);
    if (raced !== undefined) {
      replaced = describe(raced);
      await raced.close();
    }
    this.connections.set(request.name, connection);
    return replaced === undefined
      ? { connection, replaced: false }
      : { connection, replaced: true, previous: replaced };
  }

  /** The connection named `name`, or an UNKNOWN_CONNECTION error naming the ones that exist. */
  get(name: string): BrokerConnection {
    const connection = this.connections.get(name);
    if (connection === undefined) {
      const known = [...this.connections.keys()];
      throw new MqttToolError(
        MqttErrorCode.UnknownConnection,
        `No MQTT connection named '${name}' in this session` +
          (known.length > 0
            ? ` (open: ${known.map((k) => `'${k}'`).join(', ')})`
            : '; call mqttConnect first'),
        { details: { connection: name, connections: known } },
      );
    }
    return connection;
  }

  /** Closes `name`; false when there was no such connection. */
  async close(name: string): Promise<boolean> {
    const connection = this.connections.get(name);
    if (connection === undefined) return false;
    this.connections.delete(name);
    await connection.close();
    return true;
  }

  list(): BrokerConnection[] {
    return [...this.connections.values()];
  }

  /** Cancels connects in flight and closes every connection. Idempotent. */
  async closeAll(): Promise<void> {
    this.closed = true;
    for (const abort of this.opening.keys()) abort.abort();
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new MqttToolError(MqttErrorCode.ConnectFailed, 'The MCP session is closing', {});
    }
  }
}
