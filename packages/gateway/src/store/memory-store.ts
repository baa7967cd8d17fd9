/**
 * The in-process StateStore: counters in memory, no session directory to speak of (a session lives
 * in the one process that opened it, so there is nothing to look up elsewhere), and record tables as
 * maps with lazy expiry.
 */
import { MemoryCounterStore } from '../limits/memory-store.js';
import type { CounterStore } from '../limits/store.js';
import type { RecordTable, SessionDirectory, SessionRecord, StateStore } from './store.js';

class MemoryTable<T> implements RecordTable<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(private readonly now: () => number) {}

  async get(key: string): Promise<T | undefined> {
    return this.live(key)?.value;
  }

  async put(key: string, value: T, ttlMs?: number): Promise<void> {
    this.entries.set(key, {
      value,
      expires: ttlMs === undefined ? Number.POSITIVE_INFINITY : this.now() + ttlMs,
    });
  }

  async take(key: string): Promise<T | undefined> {
    const entry = this.live(key);
    this.entries.delete(key);
    return entry?.value;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => this.live(k) !== undefined);
  }

  private live(key: string): { value: T; expires: number } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/** One process: every session is local, so nothing is recorded for others. */
const LOCAL_SESSIONS: SessionDirectory = {
  shared: false,
  save: async (_id: string, _record: SessionRecord) => undefined,
  load: async () => undefined,
  drop: async () => undefined,
};

export class MemoryStateStore implements StateStore {
  readonly counters: CounterStore;
  readonly sessions: SessionDirectory = LOCAL_SESSIONS;
  private readonly tables = new Map<string, MemoryTable<unknown>>();
  private readonly now: () => number;

  constructor(options: { counters?: CounterStore; now?: () => number } = {}) {
    this.counters = options.counters ?? new MemoryCounterStore();
    this.now = options.now ?? Date.now;
  }

  table<T>(name: string): RecordTable<T> {
    let table = this.tables.get(name);
    if (table === undefined) {
      table = new MemoryTable<unknown>(this.now);
      this.tables.set(name, table);
    }
    return table as RecordTable<T>;
  }

  async close(): Promise<void> {
    this.tables.clear();
    await this.counters.close();
  }
}
