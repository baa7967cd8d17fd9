/**
 * The 2025-era sessions of one host (Streamable HTTP and legacy SSE): who opened each (a session
 * belongs to its principal; another caller sees it as absent), what it holds (its handle, closed with
 * it), and when it is abandoned.
 *
 * A client that exits without a DELETE leaves its session, with its broker and SSH connections,
 * behind. A live client holds an event stream open (the SDK clients keep the GET stream), or has a
 * request in flight; a session with neither for `idleTimeoutMs` is closed. Legacy SSE sessions end
 * with their stream instead.
 */
import type { Logger } from 'pino';

export interface SessionTransport {
  close(): Promise<void>;
}

/** What an endpoint returns for a new session: the owner of everything that session holds. */
export interface SessionHandle {
  close(): Promise<void>;
}

export interface LiveSession<T extends SessionTransport = SessionTransport> {
  readonly id: string;
  readonly principalId: string;
  readonly kind: 'streamable-http' | 'sse';
  readonly transport: T;
  handle: SessionHandle | undefined;
  closed: boolean;
  /** Requests (a long-lived GET stream included) open on this session. */
  inFlight: number;
  lastActive: number;
}

export const DEFAULT_SESSION_IDLE_MS = 10 * 60_000;

export class SessionTable {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly idleTimeoutMs: number = DEFAULT_SESSION_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.sweep = setInterval(() => this.closeIdle(), Math.max(10, Math.min(idleTimeoutMs / 4, 60_000)));
    this.sweep.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  add<T extends SessionTransport>(
    session: Omit<LiveSession<T>, 'handle' | 'closed' | 'inFlight' | 'lastActive'>,
  ): LiveSession<T> {
    const live: LiveSession<T> = {
      ...session,
      handle: undefined,
      closed: false,
      inFlight: 0,
      lastActive: this.now(),
    };
    this.sessions.set(live.id, live);
    return live;
  }

  /** The session `id` of `principalId`, or undefined (absent, closed, or someone else's). */
  find(id: string, principalId: string): LiveSession | undefined {
    const session = this.sessions.get(id);
    if (session === undefined || session.closed || session.principalId !== principalId) return undefined;
    return session;
  }

  /** Counts a request as activity on its session until its response closes. */
  track(session: LiveSession, res: { once(event: 'close', listener: () => void): unknown }): void {
    session.inFlight++;
    session.lastActive = this.now();
    res.once('close', () => {
      session.inFlight--;
      session.lastActive = this.now();
    });
  }

  async close(session: LiveSession): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session.id);
    try {
      await session.handle?.close();
    } catch (err) {
      this.log.warn({ err, sessionId: session.id }, 'session close failed');
    }
    try {
      await session.transport.close();
    } catch {
      // Already closed by the peer; nothing left to release.
    }
    this.log.debug({ sessionId: session.id }, 'session closed');
  }

  /** Closes every Streamable HTTP session with no stream, no request and no activity for the timeout. */
  closeIdle(): void {
    const now = this.now();
    for (const session of this.sessions.values()) {
      if (session.kind !== 'streamable-http') continue;
      if (session.inFlight === 0 && now - session.lastActive >= this.idleTimeoutMs) {
        this.log.info({ sessionId: session.id }, 'closing abandoned session (no stream, no request)');
        void this.close(session);
      }
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweep);
    await Promise.all([...this.sessions.values()].map((s) => this.close(s)));
  }
}
