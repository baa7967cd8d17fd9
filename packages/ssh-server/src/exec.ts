/**
 * Running one command on an open exec channel: output capped, a timeout (or the client's
 * cancellation, or the end of its connection or session) that really ends the remote command, and
 * output streamed as it arrives.
 *
 * Ending a command (channel-stop.ts): a `TERM` signal request, `KILL` after a grace period, then
 * the channel is closed; the call returns when the channel closes, or, if the server ignores all of
 * that, after one more grace period. Mcp Ssh passed its timeout to an option that does not exist,
 * so nothing ever timed out.
 */
import { stopChannel } from './channel-stop.js';
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
  /** Aborted when the MCP client cancels the request, or the command's owner ends it. */
  abort?: AbortSignal | undefined;
  /** Output as it arrives (only what fits under the cap). */
  onOutput?: ((stream: 'stdout' | 'stderr', chunk: Buffer) => void) | undefined;
  /** Called (once or more) when output beyond the cap was dropped. */
  onTruncated?: (() => void) | undefined;
  now?: () => number;
}

export async function runExec(run: ExecRun): Promise<ExecOutcome> {
  const { channel, limits } = run;
  const now = run.now ?? Date.now;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let budget = limits.maxOutputBytes;
  let truncated = false;
  let timedOut = false;
  let cancelled = false;
  const timers: NodeJS.Timeout[] = [];

  const take = (stream: 'stdout' | 'stderr', sink: Buffer[]) => (chunk: Buffer) => {
    if (budget <= 0) {
      truncated = true;
      run.onTruncated?.();
      return;
    }
    const kept = chunk.length <= budget ? chunk : chunk.subarray(0, budget);
    budget -= kept.length;
    sink.push(Buffer.from(kept));
    run.onOutput?.(stream, kept);
    if (kept.length < chunk.length) {
      truncated = true;
      run.onTruncated?.();
    }
  };
  channel.onStdout(take('stdout', out));
  channel.onStderr(take('stderr', err));
  channel.endInput(run.stdin);

  // Settles when a stop's escalation is over and the server honoured none of it.
  let forced: ((exit: ExecExit) => void) | undefined;
  const forcedEnd = new Promise<ExecExit>((resolve) => {
    forced = resolve;
  });
  let stopping = false;
  const terminate = () => {
    if (stopping) return;
    stopping = true;
    void stopChannel(channel, { graceMs: limits.killGraceMs, first: 'TERM' }).then(() =>
      forced?.({ exitCode: null, signal: null, connectionLost: false }),
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
    // The channel's end comes first when both settle: stopChannel resolves after it.
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
