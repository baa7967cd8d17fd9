/**
 * State that must be shared when several gateway processes serve one address, behind one interface:
 * rate-limit counters, 2025-era session routing, and (later issues) approvals and tool pins. One
 * process uses the in-memory implementation; a Redis one implements the same interface, and the
 * forwarding core never knows which it has.
 *
 * Everything here is asynchronous and JSON-serialisable, so that a networked store fits as is.
 */
import type { CounterStore } from '../limits/store.js';

/** What another process needs to serve a 2025-era session it did not open. */
export interface SessionRecord {
  server: string;
  principal: { id: string; kind: 'grant' | 'anonymous' | 'local' };
  /** The agent's initialize: replayed upstream when the session has to be opened again. */
  protocolVersion: string;
  clientInfo: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  /** The upstream session the gateway opened for it, when the upstream keeps sessions over HTTP. */
  upstreamSessionId?: string;
  /** What the agent was shown at initialize (the upstream's result): a resumed session shows the same. */
  presented?: Record<string, unknown>;
  logLevel?: string;
  subscriptions?: string[];
}

export interface SessionDirectory {
  /**
   * Whether other processes read it: then a gateway that shuts down leaves its upstream sessions
   * open for whichever process serves the agents next.
   */
  readonly shared: boolean;
  /** Records (or updates) a session so that another process can serve it. */
  save(id: string, record: SessionRecord): Promise<void>;
  /** A session another process recorded, or undefined. */
  load(id: string): Promise<SessionRecord | undefined>;
  drop(id: string): Promise<void>;
}

/** Small JSON records with an expiry, by table: approvals and pins go here. */
export interface RecordTable<T> {
  get(key: string): Promise<T | undefined>;
  put(key: string, value: T, ttlMs?: number): Promise<void>;
  /** Reads and deletes in one step (a single-use approval is consumed exactly once). */
  take(key: string): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

export interface StateStore {
  readonly counters: CounterStore;
  readonly sessions: SessionDirectory;
  table<T>(name: string): RecordTable<T>;
  close(): Promise<void>;
}
