/**
 * `bastion-gateway`: the only place that reads argv and the environment, installs signal handlers
 * and exits.
 *
 *   bastion-gateway --config gateway.json [--host 127.0.0.1] [--port 4200]
 *   bastion-gateway --stdio --config gateway.json --server NAME
 *   bastion-gateway grant create LABEL [--server NAME ...]
 *   bastion-gateway audit verify FILE... [--key KEYFILE] [--head-dir DIR] [--no-head]
 *   bastion-gateway audit merge FILE...
 *   bastion-gateway audit key create KEYFILE
 *   bastion-gateway admin create [--name NAME]
 *   bastion-gateway pin --config gateway.json [--accept] [--server NAME ...] [--tool NAME ...]
 *   bastion-gateway schema [--policy]
 */

import { normalizeOrigin } from '@bastion/mcp-http';
import { Command } from 'commander';
import { type Logger, pino } from 'pino';
import type { ChainKey } from './audit/chain.js';
import { AUDIT_KEY_ENV, createAuditKeyFile, parseAuditKey, readAuditKeyFile } from './audit/key.js';
import { AuditMergeError, mergeAuditLogs } from './audit/merge.js';
import { verifyAuditLogs } from './audit/report.js';
import type { Clock } from './clock.js';
import { gatewayConfigJsonSchema, loadConfigFile, policyJsonSchema } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import { createAdminToken, createGrantToken, grantConfigEntry } from './grants.js';
import { runPin } from './pins/cli.js';
import { describeLoadError, formatProblems } from './policy/problems.js';
import { StdioAgentChannel } from './stdio-agent.js';
import { commandProblem } from './upstream/stdio-pipe.js';

const VERSION = '0.1.0';

interface ServeFlags {
  config?: string;
  host: string;
  port: string;
  stdio?: boolean;
  server?: string;
  logLevel: string;
  /** Undefined unless --check or --no-check is given: checking is the default. */
  check?: boolean;
  allowedOrigins?: string;
  allowedHosts?: string;
}

async function serve(flags: ServeFlags): Promise<void> {
  if (flags.config === undefined) {
    process.stderr.write('bastion-gateway: --config is required\n');
    process.exit(2);
  }
  // JSON logs on stderr only: with --stdio, stdout carries nothing but MCP messages.
  const logger: Logger = pino({ name: 'bastion-gateway', level: flags.logLevel }, pino.destination(2));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  let gateway: Gateway;
  try {
    const config = await loadConfigFile(flags.config, process.env);
    if (flags.stdio && (flags.server === undefined || !config.servers.has(flags.server))) {
      const known = [...config.servers.keys()].join(', ');
      process.stderr.write(`bastion-gateway: --stdio needs --server NAME (one of: ${known})\n`);
      process.exit(2);
    }
    gateway = await createGateway({ config, logger, ...clockFromEnv(process.env, logger) });
  } catch (err) {
    // Problems go to stderr as plain lines a person can read, one per problem.
    process.stderr.write(`${describeLoadError(err, 'bastion-gateway: ')}\n`);
    process.exit(2);
  }

  let stopping = false;
  const shutdown = async (why: string, code = 0, drain = false) => {
    if (stopping) return;
    stopping = true;
    // SIGTERM and SIGINT drain (issue 14 item 10): new requests are refused, calls in flight finish
    // within limits.shutdownGraceMs, then everything closes.
    logger.info({ why, graceMs: drain ? gateway.config.limits.shutdownGraceMs : 0 }, 'shutting down');
    if (drain) await gateway.shutdown();
    else await gateway.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0, true));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0, true));
  process.on('SIGHUP', () => void gateway.reloadPolicies());

  if (flags.check !== false) {
    // Reach each upstream once: a policy naming an argument its tool does not have stops the start.
    const only = flags.stdio ? flags.server : undefined;
    const checks = await gateway.checkUpstreams(only === undefined ? undefined : [only]);
    const refused = checks.filter((c) => c.problems.length > 0);
    for (const c of checks) {
      if (c.cannotStart !== undefined) logCannotStart(logger, c.server, c.cannotStart);
      else if (c.error !== undefined)
        logger.warn(
          { server: c.server, err: c.error },
          'upstream not reachable at start; checked on first use',
        );
    }
    if (refused.length > 0) {
      for (const c of refused)
        process.stderr.write(`${formatProblems(c.problems, `server '${c.server}'`)}\n`);
      await shutdown('policy does not match the upstream', 2);
      return;
    }
    // A command that cannot start will not start later either (issue 9: the gateway kept serving
    // a server whose every call failed): the start fails, as for a policy that does not fit.
    if (checks.some((c) => c.cannotStart !== undefined)) {
      await shutdown('an upstream command cannot start', 2);
      return;
    }
  } else {
    // No upstream is reached, but a command that is not there is still said at start.
    for (const server of gateway.config.servers.values()) {
      if (flags.stdio && server.name !== flags.server) continue;
      if (server.upstream.transport !== 'stdio') continue;
      const reason = commandProblem(server.upstream);
      if (reason !== undefined)
        logCannotStart(logger, server.name, { command: server.upstream.command, reason });
    }
  }

  if (flags.stdio) {
    const transport = new StdioAgentChannel(process.stdin, process.stdout);
    await gateway.serveLocal(flags.server ?? '', transport);
    process.stdin.on('end', () => void shutdown('stdin closed'));
    logger.info({ server: flags.server }, 'serving over stdio');
    return;
  }
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`bastion-gateway: --port must be a port number, not '${flags.port}'\n`);
    await shutdown('bad port', 2);
    return;
  }
  const allowedOrigins = flags.allowedOrigins
    ?.split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  const bad = allowedOrigins?.find((o) => normalizeOrigin(o) === undefined);
  if (bad !== undefined) {
    process.stderr.write(
      `bastion-gateway: --allowed-origins: '${bad}' is not an origin (scheme://host[:port]; never 'null')\n`,
    );
    await shutdown('bad origin', 2);
    return;
  }
  await gateway.listen({
    host: flags.host,
    port,
    ...(allowedOrigins === undefined ? {} : { allowedOrigins }),
    // Behind a load balancer or a DNS name: the names agents use in Host (DNS-rebinding check).
    ...(flags.allowedHosts === undefined
      ? {}
      : {
          allowedHosts: flags.allowedHosts
            .split(',')
            .map((h) => h.trim())
            .filter((h) => h !== ''),
        }),
  });
}

/**
 * A test hook: BASTION_GATEWAY_CLOCK_OFFSET_MS shifts this process's clock, so that the replicas
 * scenarios can run two gateways whose clocks disagree (shared counters take their windows from
 * Redis's clock, and must not care). Never set in production; said loudly when it is.
 */
function clockFromEnv(env: NodeJS.ProcessEnv, logger: Logger): { clock?: Clock } {
  const raw = env.BASTION_GATEWAY_CLOCK_OFFSET_MS;
  if (raw === undefined || raw === '') return {};
  const offset = Number(raw);
  if (!Number.isFinite(offset)) {
    process.stderr.write('bastion-gateway: BASTION_GATEWAY_CLOCK_OFFSET_MS must be a number of ms\n');
    process.exit(2);
  }
  logger.warn({ offsetMs: offset }, "clock offset set (a test hook): this gateway's clock is shifted");
  return { clock: { now: () => Date.now() + offset } };
}

/** The loud line for an upstream whose command cannot start: the server, the command, why. */
function logCannotStart(logger: Logger, server: string, problem: { command: string; reason: string }): void {
  logger.error(
    { server, command: problem.command, reason: problem.reason },
    `upstream '${server}' cannot start: command '${problem.command}': ${problem.reason}`,
  );
}

const program = new Command('bastion-gateway')
  .description(
    'MCP gateway: per-tool policy (deny, hide, conditions, rate limits), audit, in front of MCP servers',
  )
  .version(VERSION)
  .option('--config <file>', 'gateway configuration (JSON)')
  .option('--host <address>', 'HTTP: interface to bind', '127.0.0.1')
  .option('--port <port>', 'HTTP: port (0 picks a free one)', '4200')
  .option(
    '--allowed-origins <origins>',
    "HTTP: browser origins allowed besides the gateway's own, comma-separated",
  )
  .option(
    '--allowed-hosts <names>',
    'HTTP: host names accepted in Host, comma-separated (default: loopback names and --host)',
  )
  .option('--stdio', 'serve one server over stdio instead of HTTP (needs --server)')
  .option('--server <name>', 'with --stdio: the server to serve')
  .option(
    '--check',
    'reach each upstream at start: exit 2 if a policy does not fit its tools or its command cannot start (the default)',
  )
  .option('--no-check', 'do not reach the upstreams at start to check policies against their tools')
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
  .showHelpAfterError()
  // Options after a subcommand are the subcommand's: `grant create x --server mqtt`.
  .enablePositionalOptions()
  .action(async (flags: ServeFlags) => serve(flags));

const grant = program.command('grant').description('manage grants (bearer tokens)');
grant
  .command('create <label>')
  .description('print a new random token (shown once) and the config entry to paste under "grants"')
  .option('--server <name...>', 'servers the grant may reach', [])
  .action((label: string, flags: { server: string[] }) => {
    const { token, tokenSha256 } = createGrantToken();
    const entry = grantConfigEntry(label, tokenSha256, flags.server);
    process.stdout.write(
      `Token for grant '${label}' (shown once; only its SHA-256 is stored):\n\n  ${token}\n\n` +
        `Add under "grants" in the gateway config:\n\n${JSON.stringify(entry, null, 2)}\n`,
    );
  });

const admin = program.command('admin').description('the console (/console) and its JSON API');
admin
  .command('create')
  .description('print a new admin token (shown once) and its entry for the config')
  .option('--name <name>', 'who this admin is in audit rows (one token per person: "admin": { "accounts" })')
  .action((flags: { name?: string }) => {
    const { token, tokenSha256 } = createAdminToken();
    const head = `Admin token for the console (shown once; only its SHA-256 is stored; not a grant token):\n\n  ${token}\n\n`;
    if (flags.name === undefined) {
      process.stdout.write(
        `${head}Add to the gateway config:\n\n${JSON.stringify({ admin: { tokenSha256 } }, null, 2)}\n`,
      );
      return;
    }
    const account = { name: flags.name, tokenSha256 };
    process.stdout.write(
      `${head}Add this account to the gateway config's "admin": { "accounts": [...] }:\n\n` +
        `${JSON.stringify(account, null, 2)}\n\nor, for the first admin:\n\n` +
        `${JSON.stringify({ admin: { accounts: [account] } }, null, 2)}\n`,
    );
  });

program
  .command('pin')
  .description(
    "pin every upstream tool's definition in the config's pins file; list changed or new tools with their diff (exit 1), or accept them with --accept",
  )
  .requiredOption('--config <file>', 'gateway configuration (JSON) naming "pins": { "file" }')
  .option('--accept', 'accept the changed and new definitions (of --server / --tool, when given)')
  .option('--server <name...>', 'only these servers')
  .option('--tool <name...>', 'only these tools')
  .action(async (flags: { config: string; accept?: boolean; server?: string[]; tool?: string[] }) => {
    try {
      process.exitCode = await runPin(flags, (text) => process.stdout.write(text));
    } catch (err) {
      process.stderr.write(`${describeLoadError(err, 'bastion-gateway pin: ')}\n`);
      process.exitCode = 2;
    }
  });

const audit = program.command('audit').description('the audit log');
audit
  .command('verify <files...>')
  .description(
    'check each log: seq without gaps, the chain (keyed: under the key), and that it reaches its head ' +
      'checkpoint; names the first problem per file and exits 1 if any file has one',
  )
  .option('--key <file>', `the chain's key file (default: the key in ${AUDIT_KEY_ENV}, if set)`)
  .option('--head-dir <dir>', 'directory of the head checkpoints (<log name>.head); default: beside each log')
  .option('--no-head', 'check the chains only, not against their head checkpoints')
  .action(async (files: string[], flags: { key?: string; headDir?: string; head: boolean }) => {
    let key: ChainKey | undefined;
    try {
      const fromEnv = process.env[AUDIT_KEY_ENV];
      if (flags.key !== undefined) key = await readAuditKeyFile(flags.key);
      else if (fromEnv !== undefined && fromEnv !== '') key = parseAuditKey(fromEnv, AUDIT_KEY_ENV);
    } catch (err) {
      process.stderr.write(`bastion-gateway: ${(err as Error).message}\n`);
      process.exit(2);
    }
    const reports = await verifyAuditLogs(files, {
      ...(key === undefined ? {} : { key }),
      headDir: flags.head ? (flags.headDir ?? null) : false,
    });
    for (const report of reports) process.stdout.write(`${report.text}\n`);
    if (reports.some((r) => r.status === 'unreadable')) process.exitCode = 2;
    else if (reports.some((r) => r.status === 'broken')) process.exitCode = 1;
  });
audit
  .command('merge <files...>')
  .description(
    'print the rows of several logs (one per replica) as one JSON Lines stream ordered by time, each ' +
      'with "log": the file it came from; verify the logs first, this only orders them',
  )
  .action(async (files: string[]) => {
    try {
      for (const merged of await mergeAuditLogs(files))
        process.stdout.write(`${JSON.stringify({ log: merged.log, ...merged.row })}\n`);
    } catch (err) {
      process.stderr.write(`bastion-gateway: ${(err as Error).message}\n`);
      process.exitCode = err instanceof AuditMergeError ? 1 : 2;
    }
  });

audit
  .command('key')
  .description("the audit chain's key")
  .command('create <file>')
  .description(
    'write a new random key to FILE (mode 0600; never over an existing file), to name as audit.keyFile; ' +
      "keep it outside the log's directory",
  )
  .action(async (file: string) => {
    try {
      const key = await createAuditKeyFile(file);
      process.stdout.write(
        `Wrote a new audit key to ${file} (key id ${key.id}).\n\n` +
          `Name it in the gateway config:\n\n  "audit": { "path": "./audit/gateway.jsonl", "keyFile": "${file}" }\n\n` +
          `or give its content in ${AUDIT_KEY_ENV}. Whoever holds it can write rows that verify.\n`,
      );
    } catch (err) {
      process.stderr.write(`bastion-gateway: cannot create ${file}: ${(err as Error).message}\n`);
      process.exit(2);
    }
  });

program
  .command('schema')
  .description('print the JSON Schema of the config file (or, with --policy, of a policy file)')
  .option('--policy', 'the policy file schema')
  .action((flags: { policy?: boolean }) => {
    const schema = flags.policy ? policyJsonSchema() : gatewayConfigJsonSchema();
    process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
  });

await program.parseAsync(process.argv);
