import type { Requirement } from './types.js';

const mqttx = 'UPSTREAMS.md, MQTTX SSE Server (the contract to keep)';
const defects = 'UPSTREAMS.md, MQTTX SSE Server defects (not to repeat)';
const peers = 'UPSTREAMS.md, what MQTT MCP peers added';
const issue = 'issue #2 section 2 (the MQTT MCP server)';
const issue13 = 'issue #13, MQTT item 2 (no loss under bursts)';
const issue13small = 'issue #13, MQTT item 3 (small things a new user hit)';
const issue14storm = 'issue #14, found with real clients: reconnect storm on a shared client id';
const spec311 = 'MQTT 3.1.1';
const spec5 = 'MQTT 5.0';

const wave2 = 'issue #9 (current MCP on every server: SDK v2, both protocol eras)';
const wave2Resources = 'issue #13, MQTT item 1 (topics as resources)';

export const mqttRequirements: Requirement[] = [
  // Both protocol eras, through the official clients.
  {
    id: 'mqtt.clients.success-paths',
    statement:
      "every tool's success path passes through the official client's own callTool (v1 2025-11-25, v2 in both eras) with the original texts",
    source: wave2,
  },
  {
    id: 'mqtt.clients.error-paths',
    statement:
      "every tool's error paths reach the official client's own callTool as isError results with a stable code, never a thrown -32602",
    source: wave2,
  },
  {
    id: 'mqtt.eras.listen-updates',
    statement:
      'a received MQTT message reaches a 2026-07-28 client as resources/updated on its subscriptions/listen stream',
    source: wave2,
  },
  {
    id: 'mqtt.eras.identity-isolation',
    statement:
      "in the stateless era a connection belongs to the caller's identity: the same token reaches it from any client, another token can neither see nor use it nor hear of its topics",
    source: wave2,
  },
  {
    id: 'mqtt.eras.stdio',
    statement:
      'over stdio the v1 client and the v2 client in both eras list and call the tools (serveStdio pins the era)',
    source: wave2,
  },
  {
    id: 'mqtt.resources.subscribe-2025',
    statement:
      'a topic is a resource mqtt://{connection}/{topic} holding its last message; resources/subscribe sends updates as messages arrive',
    source: wave2Resources,
  },
  // The original's contract.
  {
    id: 'mqtt.compat.tool-schema',
    statement: "keeps the original four tools' names, descriptions and required fields",
    source: mqttx,
  },
  { id: 'mqtt.compat.server-name', statement: "names itself 'mqtt-server' in serverInfo", source: mqttx },
  {
    id: 'mqtt.compat.connect-text',
    statement:
      "answers mqttConnect with 'Successfully connected to MQTT broker at {host}:{port} with client ID {clientId}'",
    source: mqttx,
  },
  {
    id: 'mqtt.compat.subscribe-text',
    statement: "answers mqttSubscribe with 'Successfully subscribed to MQTT topic '{topic}' with QoS {qos}'",
    source: mqttx,
  },
  {
    id: 'mqtt.compat.publish-text',
    statement:
      "answers mqttPublish with 'Successfully published message to MQTT topic '{topic}' with QoS {qos}, retain: {retain}'",
    source: mqttx,
  },
  {
    id: 'mqtt.compat.disconnect-text',
    statement: "answers mqttDisconnect with 'Successfully disconnected from MQTT broker'",
    source: mqttx,
  },
  {
    id: 'mqtt.compat.mqttx-url',
    statement:
      'a client configured for the original (http://localhost:PORT/mqttx/sse) lists the four tools with their fields and gets the original texts',
    source: mqttx,
  },
  {
    id: 'mqtt.tools.annotations',
    statement: 'gives every tool all four annotations and returns structuredContent beside the text',
    source: issue,
  },
  // Connecting.
  {
    id: 'mqtt.connect.refused',
    statement: 'reports a refused TCP connection as isError with code CONNECT_REFUSED',
    source: defects,
  },
  {
    id: 'mqtt.connect.auth-failed',
    statement: "reports wrong credentials as isError with code AUTH_FAILED and the broker's reason code",
    source: issue,
  },
  {
    id: 'mqtt.connect.timeout',
    statement: 'gives up on a broker that never answers after connectTimeoutMs with code CONNECT_TIMEOUT',
    source: defects,
  },
  {
    id: 'mqtt.connect.dns',
    statement: 'reports a host name that does not resolve with code DNS_FAILED',
    source: issue,
  },
  {
    id: 'mqtt.connect.no-retry',
    statement: 'leaves no client reconnecting in the background after a failed connect',
    source: defects,
  },
  {
    id: 'mqtt.connect.tls-untrusted',
    statement: 'refuses a broker certificate that the given CA did not sign with code TLS_FAILED',
    source: issue,
  },
  {
    id: 'mqtt.connect.allow-brokers',
    statement:
      'with --allow-brokers, refuses any broker not listed (BROKER_NOT_ALLOWED) and connects to listed ones',
    source: defects,
  },
  {
    id: 'mqtt.secrets.never-echoed',
    statement: 'never puts a password or key in a tool result or log line',
    source: issue,
  },
  // Messaging.
  {
    id: 'mqtt.subscribe.wildcards',
    statement: "delivers messages matching '+' and '#' filters, and only those",
    source: spec311,
  },
  {
    id: 'mqtt.subscribe.filter-validation',
    statement: "refuses topic filters that break the '+' and '#' rules, and wildcards in a publish topic",
    source: `${spec311} section 4.7`,
  },
  {
    id: 'mqtt.qos.levels',
    statement: 'publishes and receives at QoS 0, 1 and 2, reporting the QoS each message arrived with',
    source: spec311,
  },
  {
    id: 'mqtt.retain',
    statement: 'delivers a retained message to a later subscriber, flagged retain',
    source: spec311,
  },
  {
    id: 'mqtt.unsubscribe',
    statement: 'mqttUnsubscribe stops delivery from that topic filter',
    source: peers,
  },
  {
    id: 'mqtt.read.wait',
    statement: 'mqttReadMessages with waitMs waits for the next matching message when none is buffered',
    source: peers,
  },
  {
    id: 'mqtt.read.bounded',
    statement:
      'keeps a bounded buffer per connection, drops the oldest when full and reports how many were dropped',
    source: issue,
  },
  {
    id: 'mqtt.burst.no-loss',
    statement:
      'loses none of 10,000 messages published at 12,000 msg/s while a client reads concurrently, with default settings, receiving as many as a plain mqtt.js subscriber in the same run',
    source: issue13,
  },
  {
    id: 'mqtt.burst.backpressure',
    statement:
      'with a buffer smaller than a QoS 1 burst, holds the broker back while the buffer is full and loses nothing as long as the client keeps reading',
    source: issue13,
  },
  {
    id: 'mqtt.buffer.limit-visible',
    statement:
      "mqttStatus shows the buffer's limits (messages and bytes), what happens at them (pause, then drop-oldest), whether it is paused, and the dropped count",
    source: issue13,
  },
  {
    id: 'mqtt.notify.paced',
    statement:
      'pushes at most maxNotificationsPerSecond notifications per connection, says once with a warning notification when it starts holding some back, counts them in mqttStatus, and every message stays readable',
    source: issue13,
  },
  {
    id: 'mqtt.persistent.broker-restart',
    statement:
      'with clean: false and QoS 1, every message the broker kept for the connection across a broker restart reaches the agent, as many as a plain mqtt.js subscriber gets',
    source: issue13,
  },
  {
    id: 'mqtt.read.filter',
    statement: 'mqttReadMessages filters by topic filter and limit, leaving the rest buffered',
    source: issue,
  },
  {
    id: 'mqtt.payload.binary',
    statement: 'publishes base64 payloads and delivers non-UTF-8 payloads base64-encoded with a flag',
    source: defects,
  },
  {
    id: 'mqtt.payload.limit',
    statement: 'refuses a payload over the size limit with an input error',
    source: issue,
  },
  {
    id: 'mqtt.notify.logging',
    statement:
      'pushes every received message as a valid MCP notifications/message (level info) with topic, payload, qos and retain',
    source: defects,
  },
  {
    id: 'mqtt.status',
    statement: 'mqttStatus shows each connection with its state, subscriptions and buffer use',
    source: peers,
  },
  {
    id: 'mqtt.will',
    statement: 'a will message given to mqttConnect is published by the broker when the connection is lost',
    source: defects,
  },
  // Connections and sessions.
  {
    id: 'mqtt.connections.named',
    statement:
      'holds several named broker connections in one MCP session, each with its own subscriptions and buffer',
    source: peers,
  },
  {
    id: 'mqtt.sessions.isolated',
    statement: 'never lets one MCP session see or use the broker connections of another',
    source: issue,
  },
  {
    id: 'mqtt.sessions.close-releases',
    statement: 'closes every broker connection of an MCP session when the session ends',
    source: defects,
  },
  // A broker that goes away.
  {
    id: 'mqtt.reconnect.restores',
    statement:
      'after the broker is killed and restarted on the same port, reconnects and restores every subscription',
    source: issue,
  },
  {
    id: 'mqtt.reconnect.status',
    statement: "mqttStatus shows 'reconnecting' while the broker is away",
    source: issue,
  },
  {
    id: 'mqtt.reconnect.backoff-stable',
    statement:
      'grows the reconnect backoff across links lost before they stayed up reconnectStableMs, and starts it over only after one did',
    source: issue14storm,
  },
  {
    id: 'mqtt.takeover.shared-id',
    statement:
      "two MCP sessions connected with one client id stop taking it from each other: one ends 'taken-over' in mqttStatus and answers CLIENT_ID_TAKEN_OVER (buffered messages stay readable), the other stays connected and receives",
    source: issue14storm,
  },
  {
    id: 'mqtt.takeover.reason-code',
    statement:
      "recognises MQTT 5 reason code 0x8E (session taken over) at once, without a reconnect: 'taken-over' with the reason code in mqttStatus, CLIENT_ID_TAKEN_OVER on the next call",
    source: issue14storm,
  },
  {
    id: 'mqtt.reconnect.publish-fails',
    statement: 'a publish while the broker is away fails with NOT_CONNECTED and nothing crashes',
    source: issue,
  },
  // MQTT 5, TLS and WebSocket.
  {
    id: 'mqtt.v5.properties',
    statement:
      'publishes and delivers MQTT 5 user properties, content type, correlation data and message expiry',
    source: spec5,
  },
  {
    id: 'mqtt.v5.request-response',
    statement: 'completes an MQTT 5 request/response round trip through response topic and correlation data',
    source: peers,
  },
  {
    id: 'mqtt.tls.server',
    statement: "connects over mqtts trusting the broker's CA",
    source: defects,
  },
  {
    id: 'mqtt.tls.mutual',
    statement: 'connects with a client certificate to a broker that requires one',
    source: peers,
  },
  { id: 'mqtt.ws', statement: 'connects over ws and wss', source: peers },
  // Transports.
  {
    id: 'mqtt.transport.legacy-sse',
    statement:
      'serves the legacy SSE endpoints GET /mqttx/sse and POST /mqttx/message?sessionId= to the SDK SSE client',
    source: mqttx,
  },
  {
    id: 'mqtt.transport.streamable-http',
    statement: 'serves Streamable HTTP at /mcp on the same port',
    source: issue,
  },
  {
    id: 'mqtt.transport.stdio',
    statement: 'serves one session over stdio with nothing but protocol on stdout',
    source: issue,
  },
  // The contract any server claiming the original's tools is checked against (bastion test --suite mqtt).
  {
    id: 'mqtt.input.tool-error',
    statement:
      "answers input the server refuses after the schema (a payload that is not base64, MQTT 5 properties on an MQTT 3.1.1 connection) with an isError result coded INVALID_INPUT naming the field, not 'MCP error -32602'",
    source: issue13small,
  },
  {
    id: 'mqtt.connect.replaced',
    statement:
      'an mqttConnect that replaces a connection of the same name keeps the original success text as the first content item and says in a second one, and in structuredContent.previous, what it replaced',
    source: issue13small,
  },
  {
    id: 'mqtt.compat.connect-failure',
    statement:
      'answers an mqttConnect that fails with an isError tool result, not a JSON-RPC error, and keeps serving the session',
    source: defects,
  },
];
