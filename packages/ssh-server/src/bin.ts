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
    '--ssh-agent <socket>',
    'ssh-agent socket that connect {agent: true} may use (e.g. "$SSH_AUTH_SOCK")',
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
  .option('--kill-grace-ms <ms>', 'when ending a command: wait this long after TERM, then after KILL', '1000')
  .option(
    '--progress-interval-ms <ms>',
    'exec with a progress token: a notification at least this often',
    '5000',
  )
  .option('--max-jobs <n>', 'background jobs running at once per MCP session', '8')
  .option('--max-job-output-bytes <bytes>', 'output a job keeps per stream (its ring)', String(1024 * 1024))
  .option('--max-job-ms <ms>', 'longest a background job may run', String(86_400_000))
  .option('--max-shells <n>', 'PTY shells open at once per MCP session', '4')
  .option('--max-shell-output-bytes <bytes>', 'output a shell keeps (its ring)', String(1024 * 1024))
  .option('--shell-idle-timeout-ms <ms>', 'close a shell after this long without a call on it', '600000')
  .option(
    '--max-shell-idle-timeout-ms <ms>',
    'upper bound of the idle timeout a shell may ask for',
    '3600000',
  )
  .option('--keepalive-interval-ms <ms>', 'SSH keepalive interval (0 disables)', '15000')
  .option('--keepalive-count-max <n>', 'unanswered keepalives before a connection is dead', '3')
  .addOption(
    new Option('--log-level <level>', 'log level')
      .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  );

program.parse();
const o = program.opts<Record<string, string | boolean | undefined>>();

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
  sshAgent: o.sshAgent as string | undefined,
  defaultTimeoutMs: o.timeoutMs as string,
  maxTimeoutMs: o.maxTimeoutMs as string,
  maxOutputBytes: o.maxOutputBytes as string,
  maxFileBytes: o.maxFileBytes as string,
  maxConnectionsPerSession: o.maxConnections as string,
  maxExecsPerConnection: o.maxExecs as string,
  killGraceMs: o.killGraceMs as string,
  progressIntervalMs: o.progressIntervalMs as string,
  maxJobs: o.maxJobs as string,
  maxJobOutputBytes: o.maxJobOutputBytes as string,
  maxJobMs: o.maxJobMs as string,
  maxShells: o.maxShells as string,
  maxShellOutputBytes: o.maxShellOutputBytes as string,
  shellIdleTimeoutMs: o.shellIdleTimeoutMs as string,
  maxShellIdleTimeoutMs: o.maxShellIdleTimeoutMs as string,
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
