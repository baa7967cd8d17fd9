/**
 * What one MQTT client of this server holds: its broker connections, and the last message seen on
 * each topic (for topics as resources). A 2025-era MCP session owns one; in the stateless 2026 era a
 * caller identity owns one (see @bastion/mcp-http identities.ts); over stdio the process owns one.
 * Received messages fan out to sinks: logging notifications and resource updates for 2025 sessions,
 * the identity's event bus for `subscriptions/listen` streams in the 2026 era.
 */
import type { Logger } from 'pino';
import type { MqttServerConfig } from './config.js';
import type { ConnectionNotice } from './connection.js';
import { ConnectionRegistry, connectionLimits } from './connections.js';
import type { ReceivedMessage } from './message-buffer.js';

export type MessageSink = (message: ReceivedMessage) => void;
/** Told of what the client should hear without asking: notifications held back, a client id taken over. */
export type NoticeSink = (notice: ConnectionNotice) => void;

/** Topics remembered per connection for resources/list and resources/read; the oldest is forgotten beyond. */
const TOPICS_PER_CONNECTION = 1000;

export class MqttState {
  readonly connections: ConnectionRegistry;
  private readonly sinks = new Set<MessageSink>();
  private readonly noticeSinks = new Set<NoticeSink>();
  private readonly lastByTopic = new Map<string, Map<string, ReceivedMessage>>();
  private closed: Promise<void> | undefined;

  constructor(
    readonly config: MqttServerConfig,
    readonly logger: Logger,
  ) {
    this.connections = new ConnectionRegistry({
      ...connectionLimits(config),
      logger,
      onMessage: (message, push) => this.received(message, push),
      onNotice: (notice) => {
        for (const sink of this.noticeSinks) sink(notice);
      },
    });
  }

  /**
   * Adds a receiver of the messages to push to the client: every one, unless a connection receives
   * more than `maxNotificationsPerSecond` (notification-budget.ts). Returns its removal.
   */
  addSink(sink: MessageSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** Adds a receiver of connection notices; returns its removal. */
  addNoticeSink(sink: NoticeSink): () => void {
    this.noticeSinks.add(sink);
    return () => this.noticeSinks.delete(sink);
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
      this.noticeSinks.clear();
      await this.connections.closeAll();
    })();
    return this.closed;
  }

  /** `push`: within the connection's notification budget. The last message per topic is kept either way. */
  private received(message: ReceivedMessage, push: boolean): void {
    let topics = this.lastByTopic.get(message.connection);
    if (topics === undefined) {
      topics = new Map();
      this.lastByTopic.set(message.connection, topics);
    }
    // Re-inserted so that iteration order is least recently seen first.
    topics.delete(message.topic);
    topics.set(message.topic, message);
    if (topics.size > TOPICS_PER_CONNECTION) topics.delete(topics.keys().next().value as string);
    if (!push) return;
    for (const sink of this.sinks) {
      try {
        sink(message);
      } catch (err) {
        this.logger.warn({ err }, 'a message sink failed');
      }
    }
  }
}
