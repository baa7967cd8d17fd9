/**
 * 2025-era sessions that any replica can serve: what the core's session code calls at its four
 * seams (a session opened, used, ended; an unknown session id asked for), kept here so that the
 * core stays about one process.
 *
 * How a session moves: the replica that opens it records the agent's `initialize` (server,
 * principal, protocol version, client info and capabilities) in the store before answering. A
 * replica that is asked for a session id it does not hold loads the record, checks that it belongs
 * to the same principal and server, and opens the session's upstream itself by replaying the
 * agent's `initialize` upstream: the same thing the gateway does when an upstream restarts. The
 * upstream then sees a new upstream session for the same identity (`<grant>/<session id>`), so an
 * upstream that keeps its state per identity header (bastion-mqtt, bastion-ssh with
 * `--identity-header`) keeps it; one that keeps state per upstream session starts afresh, as after
 * an upstream restart. Concurrent requests for one unknown session share one adoption.
 *
 * Why a record in Redis rather than the upstream state sealed into the session id (Envoy AI
 * Gateway): the id is fixed at `initialize`, so it could not carry what changes later, and a session
 * ended by DELETE could be replayed on another replica unless every replica checked a revocation
 * list, which is a shared store again. A record costs one GET on the first request a replica sees
 * for the session and nothing after (the session is then local); BENCH.md has the figures.
 *
 * The record expires after the idle-session timeout unless refreshed; a replica refreshes it while
 * it serves the session (at most every quarter of the timeout). Only DELETE drops it: an idle close
 * or a replica's shutdown leaves it for the other replicas.
 */
import type { Logger } from 'pino';
import type { SessionDirectory, SessionRecord } from './store.js';

interface Held {
  record: SessionRecord;
  savedAt: number;
}

/** The part of an agent session this module reads (the core's AgentSession has it). */
export interface SharedSession {
  readonly id: string;
  readonly server: string;
  readonly owner: { id: string; kind: 'grant' | 'anonymous' | 'local' };
}

export interface InitializeRecord {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
}

export class SessionSharing {
  private readonly held = new WeakMap<SharedSession, Held>();
  private readonly adopting = new Map<string, Promise<unknown>>();

  constructor(
    private readonly directory: SessionDirectory,
    private readonly logger: Logger,
    private readonly ttlMs: number,
  ) {}

  /** A session was opened here: recorded before the agent is answered, so no replica misses it. */
  async opened(session: SharedSession, init: InitializeRecord): Promise<void> {
    const record: SessionRecord = {
      server: session.server,
      principal: { id: session.owner.id, kind: session.owner.kind },
      protocolVersion: init.protocolVersion,
      clientInfo: init.clientInfo,
      capabilities: init.capabilities,
    };
    this.held.set(session, { record, savedAt: Date.now() });
    try {
      await this.directory.save(session.id, record);
    } catch (err) {
      this.logger.warn(
        { session: session.id, err: (err as Error).message },
        'session not recorded in the shared store: only this replica can serve it',
      );
    }
  }

  /** The session served a request here: keep its record alive (at most every quarter of the timeout). */
  used(session: SharedSession): void {
    const held = this.held.get(session);
    if (held === undefined || Date.now() - held.savedAt < this.ttlMs / 4) return;
    held.savedAt = Date.now();
    this.directory
      .save(session.id, held.record)
      .catch((err: Error) => this.logger.debug({ err: err.message }, 'session record not refreshed'));
  }

  /** The agent ended the session: no replica may serve it any more. */
  ended(session: SharedSession): void {
    this.directory
      .drop(session.id)
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'session record not dropped'));
  }

  /** An adoption of `id` under way here, if any (its requests wait for it). */
  pending(id: string): Promise<unknown> | undefined {
    return this.adopting.get(id);
  }

  /** DELETE of a session this replica does not hold: drops its record if it is this principal's. */
  async endRecorded(id: string, principalId: string, server: string): Promise<boolean> {
    const record = await this.directory.load(id).catch(() => undefined);
    if (record === undefined || record.principal.id !== principalId || record.server !== server) return false;
    await this.directory.drop(id);
    return true;
  }

  /**
   * A session another replica opened, re-opened here through `open` (the core's initialize with
   * the recorded parameters), or undefined when there is none for this principal and server.
   * Concurrent callers for one id share one adoption.
   */
  adopt<S>(
    id: string,
    principalId: string,
    server: string,
    open: (record: SessionRecord) => Promise<S | undefined>,
  ): Promise<S | undefined> {
    const running = this.adopting.get(id) as Promise<S | undefined> | undefined;
    if (running !== undefined) return running;
    const adoption = (async () => {
      let record: SessionRecord | undefined;
      try {
        record = await this.directory.load(id);
      } catch (err) {
        this.logger.warn({ session: id, err: (err as Error).message }, 'shared store: session not looked up');
        return undefined;
      }
      if (record === undefined || record.principal.id !== principalId || record.server !== server)
        return undefined;
      const session = await open(record);
      if (session !== undefined)
        this.logger.info({ session: id, server }, 'session taken over from another replica');
      return session;
    })().finally(() => this.adopting.delete(id));
    this.adopting.set(id, adoption);
    return adoption;
  }
}
