/**
 * The embedded host's interactive shell on a real pseudo-terminal, without a native module: util-
 * linux `script -q -e -f -c CMD /dev/null` allocates a PTY, runs CMD on it as the session leader,
 * and relays the master to its stdin/stdout, which are the SSH channel. So the line discipline is
 * the kernel's: echo, ctrl-c as SIGINT to the foreground job, `read -s` turning echo off, `stty`.
 *
 * The size: `stty` sets it first thing inside the PTY; a `window-change` later is applied from
 * outside with `stty -F` on the shell's terminal (found through /proc), and the kernel then sends
 * SIGWINCH to the foreground job, as it does behind sshd. Closing the channel is a hang-up: the
 * host ends `script`, which closes the PTY's master, and the kernel sends SIGHUP to everything on
 * the terminal.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import type { Session } from 'ssh2';
import type {
  CommandExit,
  CommandIo,
  CommandRunner,
  PtyRequest,
  RunningCommand,
  RunningShell,
  ShellRequest,
} from './command-runner.js';
import { SIGNALS } from './signals.js';

let script: string | null | undefined;

/** Path of util-linux `script`, or undefined where it is missing (then the host has no PTY). */
export function scriptBinary(): string | undefined {
  if (script === undefined) {
    script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p)) ?? null;
  }
  return script ?? undefined;
}

/** The first child of `pid` (the shell `script` started), from /proc. */
function childOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    const first = Number(children[0]);
    return Number.isInteger(first) && first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

export function startPtyShell(request: ShellRequest, io: CommandIo, path: string): RunningShell {
  const binary = scriptBinary();
  if (binary === undefined) throw new Error('no util-linux script binary: no PTY shells here');
  const login = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
  const { rows, cols, term } = request.pty;
  // rows and cols are integers from the SSH request; the rest is fixed text.
  const inside = `stty rows ${Math.trunc(rows)} cols ${Math.trunc(cols)} 2>/dev/null; exec ${login} -i`;
  const child = spawn(binary, ['-q', '-e', '-f', '-c', inside, '/dev/null'], {
    cwd: request.cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: path,
      HOME: request.cwd,
      USER: request.username,
      LOGNAME: request.username,
      SHELL: login,
      TERM: term,
      // In-memory history only: up still recalls, nothing is written to the host.
      HISTFILE: '/dev/null',
      ...request.env,
    },
  });
  child.stdout.pipe(io.stdout, { end: false });
  child.stderr.pipe(io.stderr, { end: false });
  io.stdin.pipe(child.stdin);
  child.stdin.on('error', () => {
    // The shell exited while input was on its way.
  });
  const exit = new Promise<CommandExit>((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('close', (code, signal) =>
      resolve({ code, signal: signal ? signal.replace(/^SIG/, '') : null }),
    );
  });
  return {
    // sshd delivers a signal request to the login shell's process group (killpg), not to the
    // terminal's foreground job; here the shell is script's child, leader of its own session.
    signal(name) {
      const upper = name.toUpperCase().replace(/^SIG/, '');
      const shell = child.pid === undefined ? undefined : childOf(child.pid);
      if (!SIGNALS.has(upper) || shell === undefined) return;
      try {
        process.kill(-shell, `SIG${upper}` as NodeJS.Signals);
      } catch {
        // Already gone.
      }
    },
    // `script` itself ignores SIGHUP and relays SIGTERM; only its end closes the PTY's master, and
    // the kernel then hangs the terminal up (SIGHUP to the shell and its foreground job).
    hangUp() {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
    resize(newRows, newCols) {
      const shell = child.pid === undefined ? undefined : childOf(child.pid);
      if (shell === undefined) return;
      let tty: string;
      try {
        tty = readlinkSync(`/proc/${shell}/fd/0`);
      } catch {
        return;
      }
      if (!tty.startsWith('/dev/pts/')) return;
      // Synchronous on purpose: ssh2 emits the channel's requests and data in the order they came,
      // and sshd applies a window-change before it writes later input to the terminal. An async
      // stty let a `stty size` typed right after the resize run first on a busy machine.
      try {
        execFileSync(
          'stty',
          ['-F', tty, 'rows', String(Math.trunc(newRows)), 'cols', String(Math.trunc(newCols))],
          { stdio: 'ignore', timeout: 5_000 },
        );
      } catch {
        // A shell that just exited: nothing to resize.
      }
    },
    exit,
  };
}

export interface ShellSessionOptions {
  runner: CommandRunner;
  username(): string;
  cwd: string;
  env: Record<string, string>;
  log(line: string): void;
  /** The shell started: the host keeps it to kill it when it stops, and to deliver signals. */
  started(shell: RunningCommand): void;
}

/**
 * Serves `pty-req`, `window-change` and `shell` on one session channel, as sshd does for `ssh -t`,
 * when the runner can start a shell; otherwise refuses them, as the host did before.
 */
export function servePtyRequests(session: Session, options: ShellSessionOptions): void {
  const { runner } = options;
  let pty: PtyRequest | undefined;
  let shell: RunningShell | undefined;
  session.on('pty', (accept, reject, info) => {
    if (runner.startShell === undefined) return reject?.();
    pty = { term: info.term || 'vt100', rows: info.rows || 24, cols: info.cols || 80 };
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    if (pty !== undefined) pty = { ...pty, rows: info.rows, cols: info.cols };
    shell?.resize(info.rows, info.cols);
    accept?.();
  });
  session.on('shell', (accept, reject) => {
    // Only with a terminal: a shell without one is an exec of the login shell, which no test needs.
    if (runner.startShell === undefined || pty === undefined) return reject();
    const channel = accept();
    channel.on('error', () => {});
    options.log(`shell for ${options.username()}`);
    const running = runner.startShell(
      { username: options.username(), cwd: options.cwd, env: { ...options.env }, pty },
      { stdin: channel, stdout: channel, stderr: channel.stderr },
    );
    shell = running;
    options.started(running);
    // sshd closes the terminal when its channel closes: a hang-up for everything on it.
    channel.once('close', () => running.hangUp());
    void running.exit.then((exit) => {
      try {
        if (exit.signal !== null) channel.exit(exit.signal, false, '');
        else channel.exit(exit.code ?? 255);
        channel.end();
        channel.close();
      } catch {
        // The client already closed the channel.
      }
    });
  });
}
