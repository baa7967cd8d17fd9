/**
 * `bastion-ssh`: the only file that reads argv and the environment, installs signal handlers and
 * exits. Logs are JSON on stderr; stdout carries only MCP messages in stdio mode.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, parseConfig, type SshServerConfigInput } from './config.js';
import { startSshHttpServer } from './http.js';
import { createSshServer, createSshServerShared, SERVER_VERSION } from './server.js';

const program = new Command()
  .name('bastion-ssh')
  .description('MCP server for SSH: connect, exec, SFTP upload/download, with host keys verified by default.')
  .version(SERVER_VERSION)
  .addOption(new Option('--transport <kind>', 'stdio or http').choices(['stdio', 'http']).default('stdio'))
  .option('--host <address>', 'HTTP: interface to bind', '127.0.0.1')
  .option('--port <port>', 'HTTP: port (0 picks a free one)', '4100')
  .addOption(
    new Option(
      '--auth-token <token>',
      'HTTP: require this bearer token (prefer the environment variable)',
    ).env('BASTION_SSH_AUTH_TOKEN'),
  )
  .option(
    '--allowed-origins <origins>',
    "HTTP: browser origins allowed besides the server's own, comma-separated",
  )
  .option(
    '--allow-hosts <list>',
    'only connect to these host[:port] entries, comma-separated (default: any host)',
  )
  .option('--known-hosts <file>', 'OpenSSH known_hosts file whose keys are trusted')
  .option('--trust-on-first-use', 'trust and pin the first host key seen for each host:port', false)
  .option('--files-root <dir>', 'allow localPath in uploadFile/downloadFile, confined to this directory')
  .option(
    '--ssh-agent [socket]',
    'ssh-agent socket that connect {agent: true} may use; without a value, the one in $SSH_AUTH_SOCK',
  )
  .option(
    '--allow-agent-forwarding',
    'let connect {agentForward: true} forward that agent to the remote host (never by default)',
    false,
  )
  .option(
    '--allow-fingerprint-override',
    'let a hostFingerprint from the agent win over a known_hosts entry that lists another key',
    false,
  )
  .option('--timeout-ms <ms>', 'default exec timeout', '60000')
  .option('--max-timeout-ms <ms>', 'upper bound of an exec timeout', '600000')
  .option('--max-output-bytes <bytes>', 'upper bound of exec output kept per call', String(10 * 1024 * 1024))
  .option(
    '--max-file-bytes <bytes>',
    'largest file uploadFile/downloadFile transfers',
    String(16 * 1024 * 1024),
  )
  .option('--max-connections <n>', 'SSH connections per MCP session', '8')
  .option('--max-execs <n>', 'concurrent exec calls per connection', '4')
  .option('--keepalive-interval-ms <ms>', 'SSH keepalive interval (0 disables)', '15000')
  .option('--keepalive-count-max <n>', 'unanswered keepalives before a connection is dead', '3')
  .addOption(
    new Option('--log-level <level>', 'log level')
      .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  );

program.parse();
const o = program.opts<Record<string, string | boolean | undefined>>();

function missingAgent(): never {
  process.stderr.write('bastion-ssh: --ssh-agent without a socket needs SSH_AUTH_SOCK in the environment\n');
  process.exit(2);
}

const input: SshServerConfigInput = {
  transport: o.transport as 'stdio' | 'http',
  host: o.host as string,
  port: o.port as string,
  // An empty BASTION_SSH_AUTH_TOKEN means none, as an unset one does.
  authToken: (o.authToken as string | undefined) || undefined,
  allowedOrigins: o.allowedOrigins as string | undefined,
  allowHosts: o.allowHosts as string | undefined,
  knownHostsFile: o.knownHosts as string | undefined,
  trustOnFirstUse: o.trustOnFirstUse === true,
  filesRoot: o.filesRoot as string | undefined,
  // A bare --ssh-agent opts in to the agent of the server's own environment.
  sshAgent:
    o.sshAgent === true ? process.env.SSH_AUTH_SOCK || missingAgent() : (o.sshAgent as string | undefined),
  allowAgentForwarding: o.allowAgentForwarding === true,
  allowFingerprintOverride: o.allowFingerprintOverride === true,
  defaultTimeoutMs: o.timeoutMs as string,
  maxTimeoutMs: o.maxTimeoutMs as string,
  maxOutputBytes: o.maxOutputBytes as string,
  maxFileBytes: o.maxFileBytes as string,
  maxConnectionsPerSession: o.maxConnections as string,
  maxExecsPerConnection: o.maxExecs as string,
  keepaliveIntervalMs: o.keepaliveIntervalMs as string,
  keepaliveCountMax: o.keepaliveCountMax as string,
  logLevel: o.logLevel as 'info',
};

let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(input);
} catch (err) {
  process.stderr.write(`bastion-ssh: ${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}

const logger = pino(
  {
    name: 'bastion-ssh',
    level: config.logLevel,
    // Nothing logs these; the redaction is a second line of defence.
    redact: {
      paths: [
        'password',
        'privateKey',
        'passphrase',
        'authToken',
        '*.password',
        '*.privateKey',
        '*.passphrase',
      ],
      censor: '[redacted]',
    },
  },
  pino.destination(2),
);

let shared: Awaited<ReturnType<typeof createSshServerShared>>;
try {
  shared = await createSshServerShared(config);
} catch (err) {
  logger.fatal({ err: { message: (err as Error).message } }, 'cannot start');
  process.exit(2);
}

// One failed call must never end the process; anything that escapes is logged, not fatal.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));

let shutdown: () => Promise<void>;
if (config.transport === 'http') {
  const host = await startSshHttpServer(config, { logger, shared });
  shutdown = () => host.close();
} else {
  const session = createSshServer(config, { logger, shared });
  const transport = new StdioServerTransport();
  transport.onclose = () => {
    void session.close().then(() => process.exit(0));
  };
  await session.server.connect(transport);
  logger.info({ name: 'bastion-ssh', transport: 'stdio' }, 'listening');
  process.stdin.on('end', () => {
    void session.close().then(() => process.exit(0));
  });
  shutdown = () => session.close();
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
