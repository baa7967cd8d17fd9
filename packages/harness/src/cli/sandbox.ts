/**
 * `bastion sandbox` (`pnpm start`): starts the sandbox, prints where everything is, then one line per
 * gateway decision until Ctrl-C or SIGTERM, and stops everything it started.
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type Level, type Logger, pino } from 'pino';
import { banner, eventJson, eventLine, readyJson } from '../sandbox/print.js';
import { SandboxStartError, startSandbox } from '../sandbox/sandbox.js';
import type { SandboxTier, SshShell } from '../sandbox/targets.js';
import type { CliContext } from './context.js';

/** The readable default policy shipped with the harness (packages/harness/sandbox/policy.json). */
export const DEFAULT_POLICY = fileURLToPath(new URL('../../sandbox/policy.json', import.meta.url));
export const DEFAULT_PORT = 4300;

interface SandboxFlags {
  port: number;
  policy?: string;
  tier: SandboxTier;
  sshShell?: SshShell;
  anonymous?: boolean;
  json?: boolean;
  logLevel: Level;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('expected a port, 0-65535');
  return n;
}

/** Expected with one policy file for both servers: each offers only its own tools. */
const EXPECTED = 'policy names tools the upstream does not offer';
/** Log lines the banner or the feed already show. */
const SHOWN = new Set([
  'policy reloaded',
  'policy reload rejected; the previous policy stays in force',
  'listening',
]);

/** Pino's JSON as it is (`--json`), less the expected warning. */
function jsonLog(stderr: NodeJS.WritableStream): { write(line: string): void } {
  return {
    write(line: string) {
      if (!line.includes(EXPECTED)) stderr.write(line);
    },
  };
}

/** Pino's JSON, as short lines for a person (`--json` keeps the JSON). */
function humanLog(stderr: NodeJS.WritableStream): { write(line: string): void } {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        stderr.write(line);
        return;
      }
      const { level, msg, component, time: _t, pid: _p, hostname: _h, ...rest } = entry;
      if (msg === EXPECTED || (typeof msg === 'string' && SHOWN.has(msg))) return;
      const name = typeof level === 'number' ? (pino.levels.labels[level] ?? String(level)) : String(level);
      const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
      stderr.write(`  [${String(component ?? 'sandbox')}] ${name}: ${String(msg)}${extra}\n`);
    },
  };
}

export function sandboxCommand(ctx: CliContext): Command {
  return new Command('sandbox')
    .description(
      'start a broker with simulated devices, an SSH host with files, the MQTT and SSH MCP servers and the ' +
        'gateway in front of them, and print how to point an agent at it',
    )
    .addOption(
      new Option('--port <port>', "the gateway's port (0 picks a free one)")
        .argParser(port)
        .default(DEFAULT_PORT),
    )
    .option(
      '--policy <file>',
      `policy file for both servers, reloaded when it changes (default: ${DEFAULT_POLICY})`,
    )
    .addOption(
      new Option(
        '--tier <tier>',
        'where the broker and SSH host come from: in this process, real mosquitto/sshd, or containers',
      )
        .choices(['embedded', 'process', 'container'])
        .default('embedded'),
    )
    .addOption(
      new Option(
        '--ssh-shell <shell>',
        'embedded tier: run SSH commands in the simulated shell (in-memory files) or in a REAL shell here',
      ).choices(['simulated', 'host']),
    )
    .option('--anonymous', 'also admit calls without the grant token (for clients that cannot send a header)')
    .option('--json', 'print JSON Lines (a "ready" line, then one line per event) instead of the banner')
    .addOption(
      new Option('--log-level <level>', 'what the servers and gateway log to stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('warn'),
    )
    .action(async (flags: SandboxFlags) => {
      if (flags.tier !== 'embedded' && flags.sshShell !== undefined) {
        ctx.stderr.write(
          `bastion sandbox: --ssh-shell applies to the embedded tier only; in the ${flags.tier} tier commands run in ` +
            `the real shell of ${flags.tier === 'process' ? "this machine's sshd logins" : 'the container'}\n`,
        );
        ctx.setExitCode(2);
        return;
      }
      const logger: Logger = pino(
        { level: flags.logLevel, base: undefined },
        flags.json ? jsonLog(ctx.stderr) : humanLog(ctx.stderr),
      );
      const policyPath = flags.policy === undefined ? DEFAULT_POLICY : resolve(ctx.cwd, flags.policy);
      const write = (text: string) => ctx.stdout.write(text);
      if (!flags.json) write(`Starting the Bastion sandbox (tier ${flags.tier})...\n`);
      let sandbox: Awaited<ReturnType<typeof startSandbox>>;
      try {
        sandbox = await startSandbox({
          tier: flags.tier,
          sshShell: flags.sshShell ?? 'simulated',
          policyPath,
          port: flags.port,
          anonymous: flags.anonymous === true,
          logger,
        });
      } catch (err) {
        if (!(err instanceof SandboxStartError)) throw err;
        ctx.stderr.write(`bastion sandbox: ${err.message}\n`);
        ctx.setExitCode(2);
        return;
      }
      sandbox.onEvent((event) => write(flags.json ? eventJson(event) : `${eventLine(event)}\n`));
      write(flags.json ? readyJson(sandbox.info) : banner(sandbox.info));
      if (!ctx.signal.aborted) {
        await new Promise<void>((done) => ctx.signal.addEventListener('abort', () => done(), { once: true }));
      }
      if (!flags.json) write('\nStopping the sandbox...\n');
      await sandbox.close();
      write(
        flags.json
          ? `${JSON.stringify({ event: 'stopped' })}\n`
          : 'Stopped: every server, target and timer is closed.\n',
      );
    });
}
