/**
 * The StateStore of replicas: everything behind one Redis connection.
 *
 *   - counters: RedisCounterStore (atomic scripts, Redis's clock);
 *   - sessions: 2025-era session records, so that a replica that did not open a session can serve
 *     it (the agent's next request landed elsewhere, or the replica that opened it was killed). A
 *     record expires after the idle-session timeout unless a replica serving it refreshes it;
 *   - tables: JSON records with an optional expiry, for approvals and tool pins (issue 12). `take`
 *     is GETDEL, so a single-use approval is consumed by exactly one replica.
 *
 * Records are JSON strings validated by their readers; keys are `<prefix>session:<id>` and
 * `<prefix>table:<name>:<key>`.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { RedisCounterStore, type RedisCounterStoreOptions } from '../limits/redis-store.js';
import { RedisConnection, type RedisConnectionOptions } from './redis-connection.js';
import type { RecordTable, SessionDirectory, SessionRecord, StateStore } from './store.js';

export interface RedisStateStoreOptions extends RedisConnectionOptions {
  counters?: RedisCounterStoreOptions;
  /**
   * How long a session record outlives the replica that holds it. The holder drops the record when
   * the session ends or idles out, and saves it again when the session changes (log level,
   * subscriptions), but not on every request: so this bounds only the records of sessions whose
   * replica was killed, and must be longer than a session lives.
   */
  sessionTtlMs?: number;
  logger?: Logger;
}

const DEFAULT_SESSION_TTL_MS = 24 * 3_600_000;

class RedisSessionDirectory implements SessionDirectory {
  /** Every replica reads it: a replica that shuts down leaves its sessions to the others. */
  readonly shared = true;

  constructor(
    private readonly connection: RedisConnection,
    private readonly ttlMs: number,
  ) {}

  async save(id: string, record: SessionRecord): Promise<void> {
    await this.connection.deadline(
      this.connection.client.set(this.key(id), JSON.stringify(record), 'PX', this.ttlMs),
    );
  }

  async load(id: string): Promise<SessionRecord | undefined> {
    const text = await this.connection.deadline(this.connection.client.get(this.key(id)));
    return text === null ? undefined : parseSessionRecord(text);
  }

  async drop(id: string): Promise<void> {
    await this.connection.deadline(this.connection.client.del(this.key(id)));
  }

  /** Keeps a record that is in use from expiring. */
  async touch(id: string): Promise<void> {
    await this.connection.deadline(this.connection.client.pexpire(this.key(id), this.ttlMs));
  }

  private key(id: string): string {
    return this.connection.key('session', id);
  }
}

class RedisTable<T> implements RecordTable<T> {
  constructor(
    private readonly connection: RedisConnection,
    private readonly name: string,
  ) {}

  async get(key: string): Promise<T | undefined> {
    return parse<T>(await this.connection.deadline(this.connection.client.get(this.key(key))));
  }

  async put(key: string, value: T, ttlMs?: number): Promise<void> {
    const text = JSON.stringify(value);
    if (ttlMs === undefined) await this.connection.deadline(this.connection.client.set(this.key(key), text));
    else
      await this.connection.deadline(
        this.connection.client.set(this.key(key), text, 'PX', Math.max(1, Math.ceil(ttlMs))),
      );
  }

  async take(key: string): Promise<T | undefined> {
    return parse<T>(await this.connection.deadline(this.connection.client.getdel(this.key(key))));
  }

  async delete(key: string): Promise<void> {
    await this.connection.deadline(this.connection.client.del(this.key(key)));
  }

  async keys(): Promise<string[]> {
    const prefix = this.key('');
    const found: string[] = [];
    // SCAN, not KEYS: it does not block Redis for the other replicas while it walks.
    let cursor = '0';
    do {
      const [next, batch] = await this.connection.deadline(
        this.connection.client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500),
      );
      cursor = next;
      for (const k of batch) found.push(k.slice(prefix.length));
    } while (cursor !== '0');
    return found;
  }

  private key(key: string): string {
    return this.connection.key('table', this.name, key);
  }
}

export class RedisStateStore implements StateStore {
  readonly connection: RedisConnection;
  readonly counters: RedisCounterStore;
  readonly sessions: RedisSessionDirectory;
  private readonly tables = new Map<string, RedisTable<unknown>>();

  constructor(options: RedisStateStoreOptions) {
    this.connection = new RedisConnection(options);
    this.counters = new RedisCounterStore(this.connection, options.counters);
    this.sessions = new RedisSessionDirectory(
      this.connection,
      options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
    );
  }

  /** Connects (without failing when Redis is not there yet: it is tried again in the background). */
  start(): Promise<void> {
    return this.connection.start();
  }

  table<T>(name: string): RecordTable<T> {
    let table = this.tables.get(name);
    if (table === undefined) {
      table = new RedisTable<unknown>(this.connection, name);
      this.tables.set(name, table);
    }
    return table as RecordTable<T>;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

function parse<T>(text: string | null): T | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** A record another replica wrote, checked before it is trusted with a session. */
const sessionRecordSchema = z.object({
  server: z.string(),
  principal: z.object({ id: z.string(), kind: z.enum(['grant', 'anonymous', 'local']) }),
  protocolVersion: z.string(),
  clientInfo: z.record(z.string(), z.unknown()),
  capabilities: z.record(z.string(), z.unknown()),
  upstreamSessionId: z.string().optional(),
  logLevel: z.string().optional(),
  subscriptions: z.array(z.string()).optional(),
});

function parseSessionRecord(text: string): SessionRecord | undefined {
  const parsed = sessionRecordSchema.safeParse(parse<unknown>(text));
  return parsed.success ? (parsed.data as SessionRecord) : undefined;
}

/** A key prefix used in a SCAN pattern: its glob characters are literal. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
