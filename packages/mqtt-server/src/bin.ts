/**
 * `bastion-mqtt`: the only place that reads argv and the environment, installs signal handlers and
 * exits. Everything it starts is owned by something with a close().
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, type MqttServerOptions, parseConfig } from './config.js';
import { startMqttHttpServer } from './http.js';
import { createMqttServer, SERVER_VERSION } from './server.js';

const TOKEN_ENV = 'BASTION_MQTT_AUTH_TOKEN';

const program = new Command('bastion-mqtt')
  .description('MCP server for MQTT brokers; a drop-in replacement for the MQTTX SSE Server')
  .version(SERVER_VERSION)
  .addOption(new Option('--transport <kind>', 'MCP transport').choices(['stdio', 'http']).default('stdio'))
  .option('--host <address>', 'HTTP: interface to bind', '127.0.0.1')
  .option('--port <port>', 'HTTP: port (0 picks a free one)', '4000')
  .option('--auth-token <token>', `HTTP: require "Authorization: Bearer <token>" (or set ${TOKEN_ENV})`)
  .option('--allowed-hosts <names>', 'HTTP: host names accepted in Host (default: loopback and --host)')
  .option(
    '--allowed-origins <origins>',
    "HTTP: browser origins allowed besides the server's own, comma-separated (e.g. app://.)",
  )
  .option(
    '--allow-brokers <list>',
    'brokers mqttConnect may reach, host:port or host:* comma-separated (default: any)',
  )
  .option('--max-payload-bytes <n>', 'largest payload mqttPublish accepts', '1048576')
  .option('--buffer-size <n>', 'received messages kept per connection (oldest dropped beyond)', '1000')
  .option('--max-connections <n>', 'broker connections per MCP session', '10')
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
  .showHelpAfterError();

program.parse(process.argv);
const flags = program.opts<Record<string, string | undefined>>();

const options: MqttServerOptions = {
  transport: flags.transport as 'stdio' | 'http',
  host: flags.host,
  port: flags.port,
  authToken: flags.authToken ?? process.env[TOKEN_ENV],
  allowedHosts: flags.allowedHosts,
  allowedOrigins: flags.allowedOrigins,
  allowBrokers: flags.allowBrokers,
  maxPayloadBytes: flags.maxPayloadBytes,
  maxBufferedMessages: flags.bufferSize,
  maxConnectionsPerSession: flags.maxConnections,
  logLevel: flags.logLevel as MqttServerOptions['logLevel'],
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
const logger = pino(
  {
    name: 'bastion-mqtt',
    level: config.logLevel,
    redact: {
      paths: ['password', '*.password', 'authToken', '*.authToken', 'key', '*.key'],
      censor: '[redacted]',
    },
  },
  pino.destination(2),
);

process.on('unhandledRejection', (err) => {
  logger.error({ err }, 'unhandled rejection');
});

let shuttingDown = false;
async function shutdown(close: () => Promise<void>, why: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ why }, 'shutting down');
  try {
    await close();
  } catch (err) {
    logger.error({ err }, 'error while shutting down');
  }
  process.exit(0);
}

if (config.transport === 'stdio') {
  const session = createMqttServer(config, { logger });
  await session.server.connect(new StdioServerTransport());
  // The client closing our stdin ends the one session; the SDK's stdio transport does not notice.
  process.stdin.on('end', () => void shutdown(session.close, 'stdin closed'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void shutdown(session.close, signal));
  }
  logger.info({ transport: 'stdio' }, 'serving MCP on stdio');
} else {
  let host: Awaited<ReturnType<typeof startMqttHttpServer>>;
  try {
    host = await startMqttHttpServer(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'could not start the HTTP server');
    process.exit(1);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void shutdown(host.close, signal));
  }
}
