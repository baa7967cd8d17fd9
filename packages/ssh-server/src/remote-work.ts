/**
 * The owner of everything that runs on the remote over one SSH connection: exec calls, background
 * jobs and PTY shells each register here while they run, and `closeAll()` ends them on the remote
 * before the connection itself is closed.
 *
 * Why the connection owns them, and not the MCP session: a closed SSH connection ends no remote
 * process by itself. sshd closes the command's pipes and leaves a `sleep 600` (which never writes)
 * running as an orphan; issue 14 item 11 found exactly that after an MCP DELETE. So whoever ends a
 * connection (disconnect, the end of an MCP session, server shutdown, or the expiry of a
 * stateless-era identity's connections) ends its remote work first, by closing the connection
 * through `ManagedConnection.close()`.
 */
import { SshError } from './errors.js';

/** Why remote work was ended by its owner rather than by itself. */
export type StopReason =
  | 'stopped'
  | 'timeout'
  | 'idle_timeout'
  | 'connection_closed'
  | 'session_closed'
  /** A stateless-era identity had no request for its idle timeout: what it held ends. */
  | 'identity_expired';

export interface RemoteWork {
  /** Ends the work on the remote; resolves once it is gone (or the bounded escalation gave up). */
  stop(reason: StopReason): Promise<void>;
}

export class WorkSet {
  private readonly live = new Set<RemoteWork>();
  private closing: Promise<void> | undefined;

  /** Work still registered. */
  get size(): number {
    return this.live.size;
  }

  /**
   * Registers running work; the returned function releases it once it has ended on its own.
   * Refused once `closeAll()` has started, so nothing new starts on a connection being closed.
   */
  add(work: RemoteWork): () => void {
    if (this.closing !== undefined) throw new SshError('CLOSED', 'this connection is closing');
    this.live.add(work);
    return () => {
      this.live.delete(work);
    };
  }

  /** Ends every registered work and waits for all of them. Idempotent. */
  closeAll(reason: StopReason = 'connection_closed'): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.live];
      this.live.clear();
      await Promise.all(all.map((work) => work.stop(reason).catch(() => undefined)));
    })();
    return this.closing;
  }
}
