/** What a broker connection is given, tells its owner, and shows in mqttStatus. */
import type { IClientPublishOptions } from 'mqtt';
import type { BrokerProtocol, QoS } from './connect-request.js';
import type { TakeoverEvidence } from './link-health.js';
import type { BufferStatus, ReceivedMessage } from './message-buffer.js';
import type { NotificationStatus } from './notification-budget.js';

export type ConnectionState = 'connected' | 'reconnecting' | 'taken-over' | 'closed';

export interface ConnectionLimits {
  maxBufferedMessages: number;
  maxBufferedBytes: number;
  /** How long a full buffer holds the broker back waiting for a read (capped at a quarter of the keep-alive). */
  bufferFullPauseMs: number;
  /** Notifications a second per connection at most (0: no limit). */
  maxNotificationsPerSecond: number;
  operationTimeoutMs: number;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  /** A link must stay up this long before the reconnect backoff starts over. */
  reconnectStableMs: number;
}

/** Something the agent should hear about without asking. */
export interface ConnectionNotice {
  connection: string;
  event: 'notifications-skipped' | 'client-id-taken-over';
  message: string;
}

export interface ConnectionEvents {
  /** Every received message; `push` is false beyond the notification budget (it is buffered either way). */
  message(message: ReceivedMessage, push: boolean): void;
  notice?(notice: ConnectionNotice): void;
}

export interface Subscription {
  topic: string;
  qos: QoS;
  /** What the broker granted at the last (re)subscribe. */
  grantedQos: number;
}

export type TakeoverStatus = TakeoverEvidence & { at: string };

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
  buffer: BufferStatus;
  notifications: NotificationStatus;
  /** Times the connection was lost and re-established. */
  reconnects: number;
  /** While reconnecting: attempts made since the connection was lost. */
  reconnectAttempts: number;
  /** Where the backoff stands; back to 0 once a link stayed up `reconnectStableMs`. */
  backoffAttempt: number;
  reconnectStableMs: number;
  connectedAt?: string;
  lastError?: string;
  /** Present in state 'taken-over': when, and how it was recognised. */
  takenOver?: TakeoverStatus;
}

export interface PublishOptions {
  qos: QoS;
  retain: boolean;
  properties?: IClientPublishOptions['properties'];
}
