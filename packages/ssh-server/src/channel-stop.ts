/**
 * Ending what runs on one SSH channel, for exec, jobs and shells alike: a first signal (OpenSSH
 * >= 7.9 delivers a `signal` request with killpg to the session's process group, session.c), `KILL`
 * after a grace period, then the channel is closed; it resolves when the channel has closed, or,
 * should the server ignore all of that, one more grace period later. Every timer is cleared as
 * soon as the channel closes.
 */
import type { SshSignal } from './ssh-client.js';

export interface StoppableChannel {
  signal(name: SshSignal): void;
  close(): void;
  readonly finished: Promise<unknown>;
}

export interface StopOptions {
  graceMs: number;
  /** The first signal: `TERM` for commands, `HUP` for a terminal (what a hang-up sends). */
  first?: SshSignal;
  /**
   * Close the channel together with the first signal. For a PTY this is the effective step: sshd
   * then closes the terminal, and the kernel sends SIGHUP to its foreground process group, which a
   * signal request (killpg of the login shell's group only) does not reach.
   */
  closeAtOnce?: boolean;
}

export async function stopChannel(channel: StoppableChannel, options: StopOptions): Promise<void> {
  let finished = false;
  void channel.finished.then(() => {
    finished = true;
  });
  const grace = (ms: number) =>
    new Promise<void>((resolve) => {
      if (finished) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, ms);
      void channel.finished.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  const graceMs = Math.max(options.graceMs, 0);
  channel.signal(options.first ?? 'TERM');
  if (options.closeAtOnce) channel.close();
  await grace(graceMs);
  if (finished) return;
  channel.signal('KILL');
  await grace(graceMs);
  if (finished) return;
  channel.close();
  await grace(Math.max(graceMs, 100));
}
