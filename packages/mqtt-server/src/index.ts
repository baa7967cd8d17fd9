export {
  type BrokerPattern,
  brokerAllowed,
  ConfigError,
  FLAG_NAMES,
  type MqttServerConfig,
  type MqttServerOptions,
  mqttServerConfigSchema,
  parseConfig,
} from './config.js';
export type { BrokerProtocol, ConnectionState, ConnectionStatus, QoS, Subscription } from './connection.js';
export { MqttErrorCode, MqttToolError } from './errors.js';
export { SSE_PATHS, STREAMABLE_PATH, startMqttHttpServer } from './http.js';
export type { MessageProperties, ReceivedMessage, TakeResult } from './message-buffer.js';
export type { PayloadEncoding } from './payload.js';
export { parseTopicUri, TOPIC_URI_TEMPLATE, topicUri } from './resources.js';
export {
  attachLegacySession,
  buildMqttMcpServer,
  createMqttServer,
  type MessageNotificationData,
  type MqttServerDeps,
  type MqttServerSession,
  SERVER_NAME,
  SERVER_VERSION,
} from './server.js';
export { type MessageSink, MqttState } from './state.js';
export { MQTT_CONNECT } from './tools/mqtt-connect.js';
export { MQTT_DISCONNECT } from './tools/mqtt-disconnect.js';
export { MQTT_PUBLISH } from './tools/mqtt-publish.js';
export { MQTT_READ_MESSAGES } from './tools/mqtt-read-messages.js';
export { MQTT_STATUS } from './tools/mqtt-status.js';
export { MQTT_SUBSCRIBE } from './tools/mqtt-subscribe.js';
export { MQTT_UNSUBSCRIBE } from './tools/mqtt-unsubscribe.js';
export { topicFilterProblem, topicNameProblem } from './topics.js';
