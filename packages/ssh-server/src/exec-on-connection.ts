/**
 * One exec on a managed connection, with its owner: under the per-connection limit, on a channel
 * opened with one reconnect if the connection turns out to be gone, and registered with the
 * connection's WorkSet while it runs, so that whoever closes the connection (disconnect, the end of
 * the MCP session, shutdown, a stateless-era identity expiring) ends the command on the host first.
 * No MCP SDK in here: tools/exec.ts turns arguments into a request and the outcome into a result.
 */
import type { ManagedConnection } from './connections.js';
import { SshError } from './errors.js';
import { type ExecLimits, type ExecOutcome, runExec } from './exec.js';
import { buildCommand } from './shell.js';

export interface ExecRequest {
  command: string;
  cwd?: string | undefined;
  env?: Record<string, string> | undefined;
  stdin?: string | undefined;
  limits: ExecLimits;
  /** The most commands running at once on one connection. */
  maxPerConnection: number;
  /** Aborted when the client cancels the request. */
  abort?: AbortSignal | undefined;
  onOutput?: ((stream: 'stdout' | 'stderr', chunk: Buffer) => void) | undefined;
  onTruncated?: (() => void) | undefined;
}

export async function execOnConnection(
  managed: ManagedConnection,
  request: ExecRequest,
): Promise<{ outcome: ExecOutcome; reconnected: boolean }> {
  if (managed.activeExecs >= request.maxPerConnection) {
    throw new SshError(
      'TOO_MANY_EXECS',
      `connection ${managed.id} already runs ${request.maxPerConnection} commands (the limit); wait for one to finish`,
      { limit: request.maxPerConnection },
    );
  }
  const built = buildCommand(request.command, request.cwd, request.env);
  const startedAt = Date.now();
  const stop = new AbortController();
  const onCancel = () => stop.abort();
  request.abort?.addEventListener('abort', onCancel, { once: true });
  if (request.abort?.aborted) stop.abort();
  let done = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  let release = () => {};
  managed.activeExecs++;
  try {
    // Registered before the channel opens, so that a close during the open still waits for it.
    release = managed.work.add({
      stop: () => {
        stop.abort();
        return finished;
      },
    });
    const opened = await managed.withRetry(
      (connection) => connection.exec(built.line),
      // A refusal on a live connection is final, and reported as the command failing to start.
      (err) => new SshError('EXEC_FAILED', (err as Error).message, {}, { cause: err }),
    );
    const outcome = await runExec({
      channel: opened.value,
      startedAt,
      stdin: request.stdin === undefined ? undefined : Buffer.from(request.stdin, 'utf8'),
      cwdFailedMarker: built.cwdFailedMarker,
      limits: request.limits,
      abort: stop.signal,
      onOutput: request.onOutput,
      onTruncated: request.onTruncated,
    });
    return { outcome, reconnected: opened.reconnected };
  } finally {
    release();
    done();
    request.abort?.removeEventListener('abort', onCancel);
    managed.activeExecs--;
  }
}
