import { ToolError } from '@bastion/mcp-http/kit';

/**
 * Stable codes for operational failures, carried in `_meta["dev.bastion/error"].code` of an `isError`
 * tool result (the server kit's convention) so that agents, policies and tests can branch on them
 * without parsing text.
 */
export const MqttErrorCode = {
  /** The broker host refused the TCP connection (nothing listening). */
  ConnectRefused: 'CONNECT_REFUSED',
  /** The broker rejected the credentials (CONNACK return/reason code 4, 5, 0x86, 0x87, 0x8C). */
  AuthFailed: 'AUTH_FAILED',
  /** The broker refused the CONNECT for another reason; the reason code is in the result. */
  ConnectRejected: 'CONNECT_REJECTED',
  /** The broker host name does not resolve. */
  DnsFailed: 'DNS_FAILED',
  /** The TLS handshake failed (untrusted or mismatched certificate, client certificate refused). */
  TlsFailed: 'TLS_FAILED',
  /** No CONNACK within `connectTimeoutMs` (host drops packets, or is not an MQTT broker). */
  ConnectTimeout: 'CONNECT_TIMEOUT',
  /** The broker or network closed the connection before it was accepted. */
  ConnectFailed: 'CONNECT_FAILED',
  /** `--allow-brokers` does not list this host:port. */
  BrokerNotAllowed: 'BROKER_NOT_ALLOWED',
  /** This MCP session has as many broker connections open as it may. */
  TooManyConnections: 'TOO_MANY_CONNECTIONS',
  /** No connection of that name in this MCP session. */
  UnknownConnection: 'UNKNOWN_CONNECTION',
  /** The connection exists but is reconnecting after losing the broker; nothing was sent. */
  NotConnected: 'NOT_CONNECTED',
  /** The connection was lost while waiting for the broker's acknowledgement. */
  ConnectionLost: 'CONNECTION_LOST',
  /** The broker did not acknowledge in time. */
  OperationTimeout: 'OPERATION_TIMEOUT',
  /** The broker refused a subscription (SUBACK 0x80 or an MQTT 5 failure reason code). */
  SubscribeRefused: 'SUBSCRIBE_REFUSED',
  /** The broker refused or failed a publish or unsubscribe. */
  BrokerError: 'BROKER_ERROR',
  /**
   * Another client connected with this connection's client id and the broker gave it the session
   * (MQTT 5 reason code 0x8E, or on 3.1.1 the broker dropping the link right after accepting it,
   * repeatedly). The connection stopped reconnecting, so that the two do not take the id from
   * each other forever; mqttConnect again, with another client id, to go on.
   */
  ClientIdTakenOver: 'CLIENT_ID_TAKEN_OVER',
} as const;

export type MqttErrorCode = (typeof MqttErrorCode)[keyof typeof MqttErrorCode];

/** One error type for every operational failure of the MQTT server (the kit's ToolError, typed codes). */
export class MqttToolError extends ToolError {
  override readonly name = 'MqttToolError';
  declare readonly code: MqttErrorCode;

  constructor(
    code: MqttErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}
