/**
 * `bastion`: the harness CLI. The only file that reads argv, installs signal handlers and exits;
 * each subcommand lives in its own module under cli/ and gets a CliContext.
 */
import { Command } from 'commander';
import { benchCommand, benchServerCommand } from './cli/bench.js';
import type { CliContext } from './cli/context.js';
import { testCommand } from './cli/test.js';

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

const program = new Command('bastion')
  .description('Bastion harness: benchmark (and, later, the sandbox and the conformance runs)')
  .showHelpAfterError();
program.addCommand(benchCommand(ctx));
program.addCommand(benchServerCommand(ctx), { hidden: true });
program.addCommand(testCommand(ctx));

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
