/**
 * `bastion-mqtt`: the only place that reads argv and the environment, installs signal handlers and
 * exits. Everything it starts is owned by something with a close().
 */
import { createBinLogger, installProcessHandlers, logListening } from '@bastion/mcp-http/kit';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { Command, Option } from 'commander';
import { ConfigError, type MqttServerOptions, parseConfig } from './config.js';
import { startMqttHttpServer } from './http.js';
import { topicUri } from './resources.js';
import { attachLegacySession, buildMqttMcpServer, SERVER_VERSION } from './server.js';
import { MqttState } from './state.js';

const TOKEN_ENV = 'BASTION_MQTT_AUTH_TOKEN';

const program = new Command('bastion-mqtt')
  .description('MCP server for MQTT brokers; a drop-in replacement for the MQTTX SSE Server')
  .version(SERVER_VERSION)
  .addOption(new Option('--transport <kind>', 'MCP transport').choices(['stdio', 'http']).default('stdio'))
  .option('--host <address>', 'HTTP: interface to bind', '127.0.0.1')
  .option('--port <port>', 'HTTP: port (0 picks a free one)', '4000')
  .option(
    '--auth-token <token>',
    `HTTP: require "Authorization: Bearer <token>" (repeat for several identities; or set ${TOKEN_ENV})`,
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
  )
  .option(
    '--identity-header <name>',
    'HTTP: header in which a trusted gateway names the identity it acts for',
  )
  .option('--allowed-hosts <names>', 'HTTP: host names accepted in Host (default: loopback and --host)')
  .option(
    '--allowed-origins <origins>',
    "HTTP: browser origins allowed besides the server's own, comma-separated (e.g. app://.)",
  )
  .option(
    '--session-idle-timeout-ms <ms>',
    'HTTP: close a 2025-era session with no stream and no request after this',
    '600000',
  )
  .option(
    '--identity-idle-timeout-ms <ms>',
    "HTTP: end a 2026-era identity's connections after this long idle",
    '1800000',
  )
  .option(
    '--allow-brokers <list>',
    'brokers mqttConnect may reach, host:port or host:* comma-separated (default: any)',
  )
  .option('--max-payload-bytes <n>', 'largest payload mqttPublish accepts', '1048576')
  // No defaults for these here: config.ts owns them, so that the two cannot drift apart.
  .option('--buffer-size <n>', 'received messages kept per connection (default 10000)')
  .option('--max-buffered-bytes <n>', 'payload and topic bytes kept per connection (default 64 MiB)')
  .option(
    '--buffer-full-pause-ms <ms>',
    'how long a full buffer holds the broker back waiting for a read before dropping the oldest (default 5000)',
  )
  .option(
    '--max-notifications-per-second <n>',
    'received messages pushed as notifications per connection and second; 0: no limit (default 100)',
  )
  .option(
    '--reconnect-stable-ms <ms>',
    'a broker link must stay up this long before the reconnect backoff starts over (default 10000)',
  )
  .option('--max-connections <n>', 'broker connections per MCP session or identity', '10')
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
  .showHelpAfterError();

program.parse(process.argv);
const flags = program.opts<Record<string, string | string[] | undefined>>();
const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

const envToken = process.env[TOKEN_ENV];
const options: MqttServerOptions = {
  transport: one(flags.transport) as 'stdio' | 'http',
  host: one(flags.host),
  port: one(flags.port),
  authToken: (flags.authToken as string[] | undefined) ?? (envToken ? envToken : undefined),
  identityHeader: one(flags.identityHeader),
  allowedHosts: one(flags.allowedHosts),
  allowedOrigins: one(flags.allowedOrigins),
  sessionIdleTimeoutMs: one(flags.sessionIdleTimeoutMs),
  identityIdleTimeoutMs: one(flags.identityIdleTimeoutMs),
  allowBrokers: one(flags.allowBrokers),
  maxPayloadBytes: one(flags.maxPayloadBytes),
  maxBufferedMessages: one(flags.bufferSize),
  maxBufferedBytes: one(flags.maxBufferedBytes),
  bufferFullPauseMs: one(flags.bufferFullPauseMs),
  maxNotificationsPerSecond: one(flags.maxNotificationsPerSecond),
  reconnectStableMs: one(flags.reconnectStableMs),
  maxConnectionsPerSession: one(flags.maxConnections),
  logLevel: one(flags.logLevel) as MqttServerOptions['logLevel'],
};

let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(options);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`bastion-mqtt: ${err.message}\n`);
  process.exit(2);
}

// JSON logs on stderr only: in stdio mode stdout carries nothing but MCP messages.
const logger = createBinLogger('bastion-mqtt', config.logLevel);

if (config.transport === 'stdio') {
  // Over stdio the process is the one identity: one state for the connection, whichever era it opens.
  const state = new MqttState(config, logger);
  let detach: (() => void) | undefined;
  const handle = serveStdio(
    ({ era }) => {
      const server = buildMqttMcpServer(state);
      // The probe of a connection that then falls back to initialize builds a server that is
      // discarded: only the latest one receives messages.
      detach?.();
      detach =
        era === 'legacy'
          ? attachLegacySession(server, state)
          : state.addSink((m) => {
              // serveStdio routes this onto the listen streams that asked for the topic.
              server.server.sendResourceUpdated({ uri: topicUri(m.connection, m.topic) }).catch(() => {});
            });
      return server;
    },
    { onerror: (err) => logger.warn({ err }, 'stdio transport error') },
  );
  const { stop } = installProcessHandlers(logger, async () => {
    await state.close();
    await handle.close();
  });
  // The client closing our stdin ends the one connection.
  process.stdin.on('end', () => void stop('stdin closed'));
  logListening(logger, { transport: 'stdio' });
} else {
  let host: Awaited<ReturnType<typeof startMqttHttpServer>>;
  try {
    host = await startMqttHttpServer(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'could not start the HTTP server');
    process.exit(1);
  }
  installProcessHandlers(logger, () => host.close());
}
