/**
 * `bastion-ssh`: the only file that reads argv and the environment, installs signal handlers and
 * exits. Logs are JSON on stderr; stdout carries only MCP messages in stdio mode.
 */
import { LegacyTaskTransport } from '@bastion/mcp-http';
import { createBinLogger, installProcessHandlers, logListening } from '@bastion/mcp-http/kit';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import { Command, Option } from 'commander';
import { ConfigError, parseConfig, type SshServerConfigInput } from './config.js';
import { startSshHttpServer, taskOptionsOf } from './http.js';
import {
  buildSshMcpServer,
  closeSshState,
  createSshServerShared,
  createSshState,
  SERVER_VERSION,
} from './server.js';

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
    '--identity-header <name>',
    'HTTP: header in which a trusted gateway names the identity it acts for',
  )
  .option('--allowed-hosts <names>', 'HTTP: host names accepted in Host (default: loopback and --host)')
  .option(
    '--allowed-origins <origins>',
    "HTTP: browser origins allowed besides the server's own, comma-separated",
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
  .option('--max-connections <n>', 'SSH connections per MCP session or identity', '8')
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
  .option('--max-tasks <n>', 'exec calls running as MCP tasks, kept at once per session or identity', '16')
  .option('--task-ttl-ms <ms>', 'longest a task is kept after it was created', '3600000')
  .option('--task-poll-interval-ms <ms>', 'the poll interval tasks suggest to clients', '1000')
  .option('--task-after-ms <ms>', '2026 era: an exec still running after this long becomes a task', '2000')
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
  identityHeader: o.identityHeader as string | undefined,
  allowedHosts: o.allowedHosts as string | undefined,
  allowedOrigins: o.allowedOrigins as string | undefined,
  sessionIdleTimeoutMs: o.sessionIdleTimeoutMs as string,
  identityIdleTimeoutMs: o.identityIdleTimeoutMs as string,
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
  killGraceMs: o.killGraceMs as string,
  progressIntervalMs: o.progressIntervalMs as string,
  maxJobs: o.maxJobs as string,
  maxJobOutputBytes: o.maxJobOutputBytes as string,
  maxJobMs: o.maxJobMs as string,
  maxTasks: o.maxTasks as string,
  taskTtlMs: o.taskTtlMs as string,
  taskPollIntervalMs: o.taskPollIntervalMs as string,
  taskAfterMs: o.taskAfterMs as string,
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

// JSON logs on stderr only: in stdio mode stdout carries nothing but MCP messages.
const logger = createBinLogger('bastion-ssh', config.logLevel);

let shared: Awaited<ReturnType<typeof createSshServerShared>>;
try {
  shared = await createSshServerShared(config);
} catch (err) {
  logger.fatal({ err: { message: (err as Error).message } }, 'cannot start');
  process.exit(2);
}

if (config.transport === 'http') {
  const host = await startSshHttpServer(config, { logger, shared });
  installProcessHandlers(logger, () => host.close());
} else {
  // Over stdio the process is the one identity: one set of connections, whichever era it opens.
  const ctx = createSshState(config, { logger, shared });
  // A 2025-era client over stdio can run exec as a task too (the 2026 extension is HTTP only).
  const wire = new LegacyTaskTransport(new StdioServerTransport(), taskOptionsOf(config));
  const handle = serveStdio(() => buildSshMcpServer(ctx, { legacy: true }), {
    transport: wire,
    onerror: (err) => logger.warn({ err }, 'stdio transport error'),
  });
  const { stop } = installProcessHandlers(logger, async () => {
    await closeSshState(ctx);
    await handle.close();
  });
  process.stdin.on('end', () => void stop('stdin closed'));
  logListening(logger, { transport: 'stdio' });
}
