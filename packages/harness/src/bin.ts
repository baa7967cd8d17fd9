/**
 * `bastion`: the harness CLI. The only file that reads argv, installs signal handlers and exits;
 * each subcommand lives in its own module under cli/ and gets a CliContext.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { CliContext } from './cli/context.js';

const controller = new AbortController();
const exitHooks: Array<() => void> = [];
let interrupts = 0;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupts++;
    if (interrupts > 1) {
      // A second Ctrl-C: stop waiting for a clean shutdown (exit hooks still kill the children).
      process.exit(130);
    }
    controller.abort(new Error(`interrupted by ${signal}`));
  });
}
process.on('exit', () => {
  for (const hook of exitHooks) {
    try {
      hook();
    } catch {
      // best effort at exit
    }
  }
});

const ctx: CliContext = {
  signal: controller.signal,
  // `pnpm bench` runs this in packages/harness; INIT_CWD is where the user typed it.
  cwd: process.env.INIT_CWD ?? process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  setExitCode: (code) => {
    process.exitCode = code;
  },
  onExit: (fn) => {
    exitHooks.push(fn);
  },
};

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const program = new Command('bastion')
  .description(
    "Bastion harness: the sandbox for agents (sandbox), the suites against ours or anyone's servers and " +
      'gateways, the official MCP conformance runs included (test), and the benchmarks (bench, bench-mqtt)',
  )
  .version(VERSION)
  .showHelpAfterError();

// Each subcommand's module is loaded only when that subcommand runs (all of them for help): the
// benchmark starts `bench-server` children many times and measures their memory, which must be
// their server's alone, not the test runner's or the sandbox's modules.
const commands: Record<string, { load: () => Promise<Command>; hidden?: boolean }> = {
  bench: { load: async () => (await import('./cli/bench.js')).benchCommand(ctx) },
  'bench-server': {
    load: async () => (await import('./cli/bench.js')).benchServerCommand(ctx),
    hidden: true,
  },
  'bench-mqtt': { load: async () => (await import('./cli/bench-mqtt.js')).benchMqttCommand(ctx) },
  test: { load: async () => (await import('./cli/test.js')).testCommand(ctx) },
  sandbox: { load: async () => (await import('./cli/sandbox.js')).sandboxCommand(ctx) },
};
// pnpm 12 passes the `--` of `pnpm start -- --port 4300` through to the script; no subcommand
// takes operands after it, so it is dropped and the flags behind it are read as flags.
if (process.argv[3] === '--') process.argv.splice(3, 1);
const requested = process.argv[2];
const wanted = requested !== undefined && requested in commands ? [requested] : Object.keys(commands);
for (const name of wanted) {
  const entry = commands[name];
  if (entry) program.addCommand(await entry.load(), { hidden: entry.hidden === true });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (controller.signal.aborted) {
    process.stderr.write('bastion: interrupted; child processes stopped\n');
    process.exitCode = 130;
  } else {
    process.stderr.write(`bastion: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
// Everything the command owned is closed by now; exit without waiting for stray handles
// (keep-alive agents of libraries, pino's destination) to time out.
process.exit(process.exitCode ?? 0);
