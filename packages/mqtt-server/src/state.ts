/**
 * What one MQTT client of this server holds: its broker connections, and the last message seen on
 * each topic (for topics as resources). A 2025-era MCP session owns one; in the stateless 2026 era a
 * caller identity owns one (see @bastion/mcp-http identities.ts); over stdio the process owns one.
 * Received messages fan out to sinks: logging notifications and resource updates for 2025 sessions,
 * the identity's event bus for `subscriptions/listen` streams in the 2026 era.
 */
import type { Logger } from 'pino';
import type { MqttServerConfig } from './config.js';
import { ConnectionRegistry } from './connections.js';
import type { ReceivedMessage } from './message-buffer.js';

export type MessageSink = (message: ReceivedMessage) => void;

/** Topics remembered per connection for resources/list and resources/read; the oldest is forgotten beyond. */
const TOPICS_PER_CONNECTION = 1000;

export class MqttState {
  readonly connections: ConnectionRegistry;
  private readonly sinks = new Set<MessageSink>();
  private readonly lastByTopic = new Map<string, Map<string, ReceivedMessage>>();
  private closed: Promise<void> | undefined;

  constructor(
    readonly config: MqttServerConfig,
    readonly logger: Logger,
  ) {
    this.connections = new ConnectionRegistry({
      maxConnections: config.maxConnectionsPerSession,
      maxBufferedMessages: config.maxBufferedMessages,
      operationTimeoutMs: config.operationTimeoutMs,
      reconnectInitialDelayMs: config.reconnectInitialDelayMs,
      reconnectMaxDelayMs: config.reconnectMaxDelayMs,
      logger,
      onMessage: (message) => this.received(message),
    });
  }

  /** Adds a receiver of every message; returns its removal. */
  addSink(sink: MessageSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** The last message seen on `topic` of `connection`, if any. */
  lastMessage(connection: string, topic: string): ReceivedMessage | undefined {
    return this.lastByTopic.get(connection)?.get(topic);
  }

  /** Every remembered topic with its last message, by connection. */
  topics(): Array<{ connection: string; message: ReceivedMessage }> {
    return [...this.lastByTopic].flatMap(([connection, topics]) =>
      [...topics.values()].map((message) => ({ connection, message })),
    );
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.sinks.clear();
      await this.connections.closeAll();
    })();
    return this.closed;
  }

  private received(message: ReceivedMessage): void {
    let topics = this.lastByTopic.get(message.connection);
    if (topics === undefined) {
      topics = new Map();
      this.lastByTopic.set(message.connection, topics);
    }
    // Re-inserted so that iteration order is least recently seen first.
    topics.delete(message.topic);
    topics.set(message.topic, message);
    if (topics.size > TOPICS_PER_CONNECTION) topics.delete(topics.keys().next().value as string);
    for (const sink of this.sinks) {
      try {
        sink(message);
      } catch (err) {
        this.logger.warn({ err }, 'a message sink failed');
      }
    }
  }
}
