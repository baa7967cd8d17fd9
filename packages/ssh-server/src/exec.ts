/**
 * Running one command on an open exec channel: output capped, a timeout (or the client's
 * cancellation) that really ends the remote command, and output streamed as it arrives.
 *
 * Ending a command: a `TERM` signal request (OpenSSH >= 7.9 delivers it with killpg to the
 * session's process group, session.c), `KILL` after a grace period, then the channel is closed; the
 * call returns when the channel closes, or, if the server ignores all of that, after one more grace
 * period. Mcp Ssh passed its timeout to an option that does not exist, so nothing ever timed out.
 */
import type { ExecChannel, ExecExit } from './ssh-client.js';

export interface ExecLimits {
  timeoutMs: number;
  maxOutputBytes: number;
  killGraceMs: number;
}

export interface ExecOutcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  truncated: boolean;
  /** The cd before the command failed, so the command did not run. */
  cwdFailed: boolean;
  /** The connection dropped while the command ran; its fate is unknown. */
  connectionLost: boolean;
  durationMs: number;
}

export interface ExecRun {
  channel: ExecChannel;
  startedAt: number;
  stdin?: Buffer | undefined;
  cwdFailedMarker?: string | undefined;
  limits: ExecLimits;
  /** Aborted when the MCP client cancels the request. */
  abort?: AbortSignal | undefined;
  /** Output as it arrives (only what fits under the cap). */
  onOutput?: ((stream: 'stdout' | 'stderr', text: string, totalBytes: number) => void) | undefined;
  now?: () => number;
}

export async function runExec(run: ExecRun): Promise<ExecOutcome> {
  const { channel, limits } = run;
  const now = run.now ?? Date.now;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let budget = limits.maxOutputBytes;
  let received = 0;
  let truncated = false;
  let timedOut = false;
  let cancelled = false;
  const timers: NodeJS.Timeout[] = [];

  const take = (stream: 'stdout' | 'stderr', sink: Buffer[]) => (chunk: Buffer) => {
    received += chunk.length;
    if (budget <= 0) {
      truncated = true;
      return;
    }
    const kept = chunk.length <= budget ? chunk : chunk.subarray(0, budget);
    if (kept.length < chunk.length) truncated = true;
    budget -= kept.length;
    sink.push(Buffer.from(kept));
    run.onOutput?.(stream, kept.toString('utf8'), received);
  };
  channel.onStdout(take('stdout', out));
  channel.onStderr(take('stderr', err));
  channel.endInput(run.stdin);

  let forced: ((exit: ExecExit) => void) | undefined;
  const forcedEnd = new Promise<ExecExit>((resolve) => {
    forced = resolve;
  });
  const terminate = () => {
    channel.signal('TERM');
    timers.push(
      setTimeout(() => {
        channel.signal('KILL');
        timers.push(
          setTimeout(() => {
            channel.close();
            timers.push(
              setTimeout(
                () => forced?.({ exitCode: null, signal: null, connectionLost: false }),
                Math.max(limits.killGraceMs, 100),
              ),
            );
          }, limits.killGraceMs),
        );
      }, limits.killGraceMs),
    );
  };

  let settled = false;
  timers.push(
    setTimeout(() => {
      if (settled) return;
      timedOut = true;
      terminate();
    }, limits.timeoutMs),
  );
  const onAbort = () => {
    if (settled || timedOut || cancelled) return;
    cancelled = true;
    terminate();
  };
  if (run.abort?.aborted) onAbort();
  run.abort?.addEventListener('abort', onAbort, { once: true });

  let exit: ExecExit;
  try {
    exit = await Promise.race([channel.finished, forcedEnd]);
  } finally {
    settled = true;
    for (const timer of timers) clearTimeout(timer);
    run.abort?.removeEventListener('abort', onAbort);
  }

  let stderr = Buffer.concat(err).toString('utf8');
  let cwdFailed = false;
  if (run.cwdFailedMarker !== undefined) {
    const lines = stderr.split('\n');
    const at = lines.indexOf(run.cwdFailedMarker);
    if (at !== -1) {
      cwdFailed = true;
      lines.splice(at, 1);
      stderr = lines.join('\n');
    }
  }
  return {
    stdout: Buffer.concat(out).toString('utf8'),
    stderr,
    exitCode: exit.exitCode,
    signal: exit.signal,
    timedOut,
    cancelled,
    truncated,
    cwdFailed,
    connectionLost: exit.connectionLost && !timedOut && !cancelled,
    durationMs: Math.max(0, Math.round(now() - run.startedAt)),
  };
}
