/**
 * 2025-era agent sessions: what the gateway keeps for each (its upstream, the tool list it was
 * shown, its listening stream, the requests it has in flight), and the table of them with the caps
 * that keep one token from opening sessions (and upstream processes) without bound.
 *
 * A session belongs to the principal that opened it; another caller sees it as absent. A session
 * with no open stream and no request for the idle timeout is closed (a client that exits without a
 * DELETE leaves its session behind).
 *
 * An idle session is small: ids, the principal, references to the upstream link and to a tool
 * catalog shared with the server's other sessions, and no socket (upstream connections are pooled
 * per server, and a GET stream is open only while the agent holds one).
 */
import type { Logger } from 'pino';
import { DEFAULT_SESSION_IDLE_MS, DEFAULT_SESSIONS, DEFAULT_SESSIONS_PER_GRANT } from '../config-schema.js';
import type { SessionRecord } from '../store/store.js';
import type { AgentRequests } from './agent-requests.js';
import type { ToolCatalog } from './catalog.js';
import type { Id, Wire } from './jsonrpc.js';
import type { AgentChannel, EventStream, Reply } from './reply.js';
import type { Upstream } from './upstream.js';

export interface SessionOwner {
  id: string;
  kind: 'grant' | 'anonymous' | 'local';
}

export class AgentSession {
  upstream: Upstream | undefined;
  /** The tool list this session's upstream gave, when it has one of its own (else the server's). */
  catalog: ToolCatalog | undefined;
  /** The upstream said its tools changed: list again before the next decision. */
  catalogStale = false;
  /** The 2025-era GET stream, while the agent holds one. */
  stream: EventStream | undefined;
  /** Requests in flight, by the agent's id (a second request with the same id is refused). */
  readonly inflight = new Map<Id, Reply>();
  logLevel: string | undefined;
  subscriptions: Set<string> | undefined;
  /** The capabilities the agent declared at initialize (what the gateway may ask it: elicitation). */
  clientCapabilities: Readonly<Record<string, unknown>> | undefined;
  /** Requests of the gateway's own to the agent awaiting its answer (approvals), once there was one. */
  asked: AgentRequests | undefined;
  lastActive: number;
  closed = false;
  /** What the session directory keeps of it (set once initialized; not for channel agents). */
  record: SessionRecord | undefined;

  constructor(
    readonly id: string,
    readonly server: string,
    readonly owner: SessionOwner,
    /** A channel agent (legacy SSE, stdio, in memory); HTTP agents have none. */
    readonly channel: AgentChannel | undefined,
    now: number,
  ) {
    this.lastActive = now;
  }

  /** A message for the agent that belongs to no request: its GET stream, or its channel. */
  push(wire: Wire, onError: (err: unknown) => void): void {
    if (this.closed) return;
    if (this.channel !== undefined) this.channel.send(wire.msg).catch(onError);
    else this.stream?.send(wire);
  }

  /** Whether something downstream wants the upstream's own messages. */
  get listening(): boolean {
    return this.channel !== undefined || this.stream?.open === true;
  }
}

export interface SessionCaps {
  /** Sessions one grant may hold open at once (all servers together). */
  perGrant: number;
  /** Sessions the whole process may hold open. */
  total: number;
  /** A grant's own cap, when its config sets one. */
  grantCap?(grant: string): number | undefined;
}

export type Admission = { ok: true } | { ok: false; scope: 'grant' | 'process'; limit: number };

export const DEFAULT_SESSION_CAPS: SessionCaps = {
  perGrant: DEFAULT_SESSIONS_PER_GRANT,
  total: DEFAULT_SESSIONS,
};

export class SessionTable {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly perGrant = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly caps: SessionCaps,
    private readonly logger: Logger,
    private readonly close: (session: AgentSession, why: string) => void,
    private readonly idleTimeoutMs: number = DEFAULT_SESSION_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.sweep = setInterval(() => this.closeIdle(), Math.max(10, Math.min(idleTimeoutMs / 4, 60_000)));
    this.sweep.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Whether `owner` may open one more session now. */
  admit(owner: SessionOwner): Admission {
    const grantLimit = this.caps.grantCap?.(owner.id) ?? this.caps.perGrant;
    if ((this.perGrant.get(owner.id) ?? 0) >= grantLimit)
      return { ok: false, scope: 'grant', limit: grantLimit };
    if (this.sessions.size >= this.caps.total) return { ok: false, scope: 'process', limit: this.caps.total };
    return { ok: true };
  }

  add(session: AgentSession): void {
    this.sessions.set(session.id, session);
    this.perGrant.set(session.owner.id, (this.perGrant.get(session.owner.id) ?? 0) + 1);
  }

  /** Takes the session out of the table; false when it was not in it. */
  remove(session: AgentSession): boolean {
    if (this.sessions.get(session.id) !== session) return false;
    this.sessions.delete(session.id);
    const left = (this.perGrant.get(session.owner.id) ?? 1) - 1;
    if (left <= 0) this.perGrant.delete(session.owner.id);
    else this.perGrant.set(session.owner.id, left);
    return true;
  }

  /** The session `id` of `ownerId`, or undefined (absent, closed, or someone else's). */
  find(id: string, ownerId: string): AgentSession | undefined {
    const session = this.sessions.get(id);
    if (session === undefined || session.closed || session.owner.id !== ownerId) return undefined;
    return session;
  }

  forServer(server: string): AgentSession[] {
    return [...this.sessions.values()].filter((s) => s.server === server);
  }

  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Closes every HTTP session with no stream, no request and no activity for the idle timeout. */
  closeIdle(): void {
    const now = this.now();
    for (const session of this.sessions.values()) {
      if (session.channel !== undefined || session.stream?.open || session.inflight.size > 0) continue;
      if (now - session.lastActive >= this.idleTimeoutMs) {
        this.logger.info({ session: session.id }, 'closing abandoned session (no stream, no request)');
        this.close(session, 'idle');
      }
    }
  }

  stop(): void {
    clearInterval(this.sweep);
  }
}
