/**
 * An interactive login shell on a pseudo-terminal (RFC 4254 6.2 `pty-req` + 6.5 `shell`), wrapped
 * once so the rest of the package sees a small interface instead of ssh2's stream. ssh-client.ts
 * opens it; shells.ts owns it.
 */
import type { ClientChannel, PseudoTtyOptions } from 'ssh2';
import { channelFinished } from './exec-channel.js';
import type { ExecExit, SshSignal } from './ssh-client.js';

export interface PtyOptions {
  /** TERM for the remote, e.g. `xterm-256color`. */
  term: string;
  rows: number;
  cols: number;
}

export interface ShellChannel {
  /** Everything the terminal shows (a PTY merges stdout and stderr). */
  onData(listener: (chunk: Buffer) => void): void;
  write(data: Buffer): void;
  /** RFC 4254 6.7 `window-change`: the kernel then sends SIGWINCH to the foreground job. */
  resize(rows: number, cols: number): void;
  signal(name: SshSignal): void;
  close(): void;
  /** Settles when the channel has closed. Never rejects. */
  readonly finished: Promise<ExecExit>;
}

/** ssh2's window argument: rows, cols and the pixel size (0: unknown). */
export function ptyWindow(options: PtyOptions): PseudoTtyOptions {
  return { term: options.term, rows: options.rows, cols: options.cols, height: 0, width: 0 };
}

export function wrapShellChannel(channel: ClientChannel): ShellChannel {
  const finished = channelFinished(channel);
  return {
    onData(listener) {
      channel.on('data', listener);
      channel.stderr.on('data', listener);
    },
    write(data) {
      if (channel.writable) channel.write(data);
    },
    resize(rows, cols) {
      try {
        channel.setWindow(rows, cols, 0, 0);
      } catch {
        // The channel already closed.
      }
    },
    signal(name) {
      try {
        channel.signal(name);
      } catch {
        // The channel or connection already closed; nothing to signal.
      }
    },
    close() {
      try {
        channel.close();
      } catch {
        // Already closed.
      }
    },
    finished,
  };
}
