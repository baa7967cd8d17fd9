/**
 * How the embedded SSH host runs an exec request. The default starts a real `/bin/sh -c` child in a
 * working directory; a simulated shell (for the sandbox) can implement the same interface.
 */
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { scriptBinary, startPtyShell } from './pty-shell.js';
import { SIGNALS } from './signals.js';

export interface CommandRequest {
  command: string;
  username: string;
  /** Where the command starts (the user's "home" on this host). */
  cwd: string;
  /** Variables the client sent with `env` requests. */
  env: Record<string, string>;
}

export interface CommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface CommandExit {
  code: number | null;
  /** Signal name without the SIG prefix (`TERM`), as SSH's exit-signal carries it. */
  signal: string | null;
}

export interface RunningCommand {
  /** Delivers a signal (name without SIG, e.g. `TERM`) as sshd does: to the whole process group. */
  signal(name: string): void;
  /** Settles when the command has ended and its output is flushed. */
  readonly exit: Promise<CommandExit>;
}

/** A terminal the client asked for (`pty-req`), resized by `window-change`. */
export interface PtyRequest {
  term: string;
  rows: number;
  cols: number;
}

export interface ShellRequest extends Omit<CommandRequest, 'command'> {
  pty: PtyRequest;
}

export interface RunningShell extends RunningCommand {
  /** The client's `window-change`: the terminal's new size. */
  resize(rows: number, cols: number): void;
  /** The channel closed: hang the terminal up, as sshd does by closing the PTY. */
  hangUp(): void;
}

export interface CommandRunner {
  start(request: CommandRequest, io: CommandIo): RunningCommand;
  /** An interactive shell on a terminal (`shell` after `pty-req`); absent where the runner has none. */
  startShell?(request: ShellRequest, io: CommandIo): RunningShell;
}

/** A real `/bin/sh -c` child in its own process group, so a signal reaches everything it started. */
export function createShellCommandRunner(options: { shell?: string; path?: string } = {}): CommandRunner {
  const shell = options.shell ?? '/bin/sh';
  const path = options.path ?? '/usr/local/bin:/usr/bin:/bin';
  return {
    ...(scriptBinary() === undefined
      ? {}
      : { startShell: (request, io) => startPtyShell(request, io, path) }),
    start(request, io) {
      const child = spawn(shell, ['-c', request.command], {
        cwd: request.cwd,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          PATH: path,
          HOME: request.cwd,
          USER: request.username,
          LOGNAME: request.username,
          SHELL: shell,
          ...request.env,
        },
      });
      child.stdout.pipe(io.stdout, { end: false });
      child.stderr.pipe(io.stderr, { end: false });
      io.stdin.pipe(child.stdin);
      child.stdin.on('error', () => {
        // The command exited without reading its input.
      });
      const exit = new Promise<CommandExit>((resolve) => {
        child.once('error', () => resolve({ code: 127, signal: null }));
        child.once('close', (code, signal) =>
          resolve({ code, signal: signal ? signal.replace(/^SIG/, '') : null }),
        );
      });
      return {
        signal(name) {
          const upper = name.toUpperCase().replace(/^SIG/, '');
          if (!SIGNALS.has(upper) || child.pid === undefined) return;
          try {
            process.kill(-child.pid, `SIG${upper}` as NodeJS.Signals);
          } catch {
            // Already gone.
          }
        },
        exit,
      };
    },
  };
}
