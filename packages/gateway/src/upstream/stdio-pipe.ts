/**
 * An upstream started as a child process and spoken to over stdio: one JSON-RPC message per line
 * each way. The child's stderr is its log, read line by line (an unread pipe would block it) and
 * passed to the gateway's debug log. The connection ends when the child exits; a clean close ends
 * its stdin first (the spec's graceful shutdown), then signals it if it does not exit.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { RpcMessage } from '../core/jsonrpc.js';
import { describe, parseWire, UpstreamNotDeliveredError } from './http-exchange.js';
import type { Pipe, PipeEvents } from './pipe.js';

export interface StdioCommand {
  command: string;
  args: ReadonlyArray<string>;
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

/** The variables a child inherits unless the config gives `env` (as the SDK's stdio client does). */
const INHERITED = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];

function childEnvironment(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of INHERITED) {
    const value = process.env[key];
    // Shell functions exported into the environment are not values to pass on.
    if (value !== undefined && !value.startsWith('()')) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * The upstream's command could not be started at all (not found, not executable, no resources):
 * unlike a server that exits, retrying will not help until someone fixes the config or the machine.
 */
export class UpstreamCommandError extends UpstreamNotDeliveredError {
  override readonly name = 'UpstreamCommandError';

  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`could not start '${command}': ${reason}`);
  }
}

/**
 * Why `command` would not start, found without starting it (as spawn looks it up: on the child's
 * PATH unless it names a path, relative to `cwd`), or undefined when an executable file is there.
 * For a start without `--check`, which reaches no upstream but must still say when one cannot run.
 */
export function commandProblem(command: StdioCommand): string | undefined {
  const env = childEnvironment(command.env);
  const base = command.cwd ?? process.cwd();
  const candidates = command.command.includes('/')
    ? [isAbsolute(command.command) ? command.command : resolve(base, command.command)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => resolve(base, join(dir, command.command)));
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return undefined;
    } catch {
      // Not here, or not executable: the next directory of PATH may have it.
    }
  }
  return command.command.includes('/') ? 'no executable file there' : 'not found on PATH';
}

/** How long a child has to exit after its stdin closed, then after SIGTERM. */
const EXIT_GRACE_MS = 2000;

export class StdioPipe implements Pipe {
  readonly sessionId = undefined;
  private child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private exited: Promise<void> = Promise.resolve();
  private closing = false;
  private gone = false;

  constructor(
    private readonly command: StdioCommand,
    private readonly logger: Logger,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(events: PipeEvents): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let child: ChildProcessByStdio<Writable, Readable, Readable>;
      try {
        child = spawn(this.command.command, [...this.command.args], {
          env: childEnvironment(this.command.env),
          ...(this.command.cwd === undefined ? {} : { cwd: this.command.cwd }),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
      } catch (err) {
        reject(new UpstreamCommandError(this.command.command, describe(err)));
        return;
      }
      this.child = child;
      this.exited = new Promise<void>((done) => child.once('close', () => done()));
      child.once('spawn', () => resolve());
      child.once('error', (err) => {
        // A spawn failure (ENOENT, EMFILE, EAGAIN) arrives here instead of 'spawn'.
        if (!this.gone) {
          this.gone = true;
          reject(new UpstreamCommandError(this.command.command, describe(err)));
          events.onClosed(describe(err));
        }
      });
      child.once('exit', (code, signal) => {
        if (this.gone) return;
        this.gone = true;
        events.onClosed(
          signal ? `the upstream process was ended by ${signal}` : `the upstream process exited (${code})`,
        );
      });
      child.stdin.on('error', () => undefined); // EPIPE after the child exits: reported by 'exit'
      createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        if (line.trim() === '') return;
        const wire = parseWire(line);
        if (wire === undefined) {
          this.logger.debug({ line: line.slice(0, 500) }, 'upstream wrote a line that is not JSON-RPC');
          return;
        }
        events.onMessage(wire, undefined);
      });
      createInterface({ input: child.stderr }).on('line', (line) =>
        this.logger.debug({ upstreamLog: line }, 'upstream stderr'),
      );
    });
  }

  async send(_message: RpcMessage, text: string): Promise<void> {
    const stdin = this.child?.stdin;
    if (this.gone || stdin === undefined || !stdin.writable)
      throw new UpstreamNotDeliveredError('the upstream process is not running');
    stdin.write(`${text}\n`);
  }

  setProtocolVersion(): void {}

  listen(): void {}

  async close(): Promise<void> {
    const child = this.child;
    if (child === undefined || this.closing) return this.exited;
    this.closing = true;
    if (!this.gone) {
      child.stdin.end();
      const escalate = (signal: NodeJS.Signals) =>
        Promise.race([
          this.exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), EXIT_GRACE_MS).unref()),
        ]).then((exited) => {
          if (!exited && !this.gone) child.kill(signal);
          return exited;
        });
      if (!(await escalate('SIGTERM'))) await escalate('SIGKILL');
    }
    return this.exited;
  }
}
