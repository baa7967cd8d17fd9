/**
 * An exec channel of ssh2 as a promise-shaped object: output listeners, stdin then EOF, signals, and
 * how the command ended (a `finished` promise that never rejects).
 */
import type { ClientChannel } from 'ssh2';

export interface ExecExit {
  exitCode: number | null;
  /** e.g. `SIGTERM`, when the command was ended by a signal. */
  signal: string | null;
  /** The connection went away before the command reported how it ended. */
  connectionLost: boolean;
}

/** Signal names of RFC 4254 6.10 that OpenSSH delivers (session.c name2sig). */
export type SshSignal = 'TERM' | 'KILL' | 'INT' | 'HUP' | 'QUIT' | 'USR1' | 'USR2';

export interface ExecChannel {
  onStdout(listener: (chunk: Buffer) => void): void;
  onStderr(listener: (chunk: Buffer) => void): void;
  /** Writes `data` to the command's stdin, then sends EOF. */
  endInput(data?: Buffer): void;
  /** Sends a signal request (RFC 4254 6.9); OpenSSH delivers it to the session's process group. */
  signal(name: SshSignal): void;
  close(): void;
  /** Settles when the channel has closed. Never rejects. */
  readonly finished: Promise<ExecExit>;
}

/**
 * How a session channel (exec or shell) ends: the exit status or signal it reports, or a lost
 * connection when it closes without one. Never rejects: channel errors end in 'close'.
 */
export function channelFinished(channel: ClientChannel): Promise<ExecExit> {
  let exitCode: number | null = null;
  let signal: string | null = null;
  let exited = false;
  channel.on('error', () => {
    // Channel errors end in 'close', which settles the promise.
  });
  channel.stderr.on('error', () => {});
  channel.on('exit', (code: number | null, sig?: string) => {
    exited = true;
    if (typeof code === 'number') exitCode = code;
    if (sig) signal = sig.startsWith('SIG') ? sig : `SIG${sig}`;
  });
  return new Promise<ExecExit>((resolve) => {
    channel.on('close', () => resolve({ exitCode, signal, connectionLost: !exited }));
  });
}

export function wrapChannel(channel: ClientChannel): ExecChannel {
  const finished = channelFinished(channel);
  return {
    onStdout: (listener) => channel.on('data', listener),
    onStderr: (listener) => channel.stderr.on('data', listener),
    endInput(data) {
      if (data !== undefined && data.length > 0) channel.end(data);
      else channel.end();
    },
    signal(name) {
      // ssh2's ClientChannel.signal() sends nothing once we have sent EOF (it checks `writable` and
      // state 'open'), yet every exec sends EOF after stdin. RFC 4254 allows channel requests after
      // EOF, so in that state the request goes through ssh2's protocol object directly.
      const raw = channel as unknown as {
        outgoing?: { state?: string; id?: number };
        _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
      };
      try {
        const state = raw.outgoing?.state;
        const protocol = raw._client?._protocol;
        if (state === 'open') channel.signal(name);
        else if (
          state === 'eof' &&
          raw.outgoing?.id !== undefined &&
          typeof protocol?.signal === 'function'
        ) {
          protocol.signal(raw.outgoing.id, name);
        }
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
