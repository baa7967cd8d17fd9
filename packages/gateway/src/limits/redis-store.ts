/**
 * Rate-limit counters in Redis, shared by every gateway replica that points at the same server.
 *
 * Each reservation is one Lua script run by Redis (EVALSHA, atomic: no other command runs between
 * its read and its write), so N replicas sending 1,000 parallel calls against `max: 50` admit exactly
 * 50. The same semantics as the in-memory store (memory-store.ts), key for key:
 *
 *   - fixed windows are aligned to the epoch, and the time that places a call in its window is
 *     Redis's own (`TIME` inside the script), so replicas whose clocks drift still agree on the
 *     window; a hash `{w: window start, n: count}` per counter, expiring with its window;
 *   - sliding windows are a sorted set of admitted calls scored by their time, trimmed on every
 *     reservation; a rollback removes exactly its own member;
 *   - a rollback returns the unit only to the window it was taken from (a script that compares the
 *     window start before it decrements);
 *   - commit writes nothing, in Redis as in memory: the unit was counted when it was reserved, and a
 *     replica that dies between reserve and commit leaves it counted (the safe side: a call that may
 *     have run is never given back). A script for it would cost one more round trip per call.
 *
 * The window length is part of the key, as the memory store starts a counter afresh when a policy
 * reload changes its window; a reload that changes only `max` keeps the count.
 *
 * Failures (Redis unreachable, a command over its timeout) reject with CounterStoreUnavailableError;
 * the limits step turns that into a COUNTERS_UNAVAILABLE denial. A rollback that fails leaves its
 * unit counted (never admits more than max).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisConnection } from '../store/redis-connection.js';
import {
  type CounterStore,
  CounterStoreUnavailableError,
  type Reservation,
  type ReserveRequest,
  type ReserveResult,
} from './store.js';

/** Redis's clock in ms, or the caller's when ARGV[3] carries one (fake-clock tests). */
const NOW = `
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[3])
end
local windowMs = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
`;

/** KEYS[1] hash {w, n}; ARGV windowMs, max, now|''. Returns {1, windowStart} or {0, retryAfterMs}. */
const RESERVE_FIXED = `${NOW}
local start = now - (now % windowMs)
local v = redis.call('HMGET', KEYS[1], 'w', 'n')
local n = 0
if tonumber(v[1]) == start then n = tonumber(v[2]) or 0 end
if n >= max then return {0, start + windowMs - now} end
redis.call('HSET', KEYS[1], 'w', start, 'n', n + 1)
-- Relative to the script's own time, so that a caller's clock in the past does not expire it at once.
redis.call('PEXPIRE', KEYS[1], start + windowMs - now + 1000)
return {1, start}
`;

/** KEYS[1] hash {w, n}; ARGV[1] the window start the unit was taken in. */
const ROLLBACK_FIXED = `
local v = redis.call('HMGET', KEYS[1], 'w', 'n')
if tonumber(v[1]) == tonumber(ARGV[1]) and (tonumber(v[2]) or 0) > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
  return 1
end
return 0
`;

/** KEYS[1] sorted set of admitted calls; ARGV windowMs, max, now|'', member. */
const RESERVE_SLIDING = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - windowMs)
local n = redis.call('ZCARD', KEYS[1])
if n >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')
  local at = tonumber(oldest[2]) or now
  return {0, math.max(1, at + windowMs - now)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], windowMs + 1000)
return {1, now}
`;

interface CounterCommands {
  bastionReserveFixed(key: string, windowMs: number, max: number, now: string): Promise<[number, number]>;
  bastionRollbackFixed(key: string, windowStart: number): Promise<number>;
  bastionReserveSliding(
    key: string,
    windowMs: number,
    max: number,
    now: string,
    member: string,
  ): Promise<[number, number]>;
}

export interface RedisCounterStoreOptions {
  /**
   * Whose time places a call in its window: Redis's (`redis`, the default; replicas with drifting
   * clocks agree) or the request's `now` from the gateway's injected clock (`request`: fake-clock tests).
   */
  time?: 'redis' | 'request';
  /** Told of every command that failed (metrics), with the operation that failed. */
  onFailure?(operation: 'reserve' | 'rollback', err: Error): void;
}

const resolved = Promise.resolve();

export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis & CounterCommands;
  /** Unique per store: members of sliding windows never collide across replicas. */
  private readonly memberPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(
    private readonly connection: RedisConnection,
    private readonly options: RedisCounterStoreOptions = {},
  ) {
    const client = connection.client;
    client.defineCommand('bastionReserveFixed', { numberOfKeys: 1, lua: RESERVE_FIXED });
    client.defineCommand('bastionRollbackFixed', { numberOfKeys: 1, lua: ROLLBACK_FIXED });
    client.defineCommand('bastionReserveSliding', { numberOfKeys: 1, lua: RESERVE_SLIDING });
    this.redis = client as Redis & CounterCommands;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const { windowMs, max } = request;
    const now = this.options.time === 'request' ? String(request.now) : '';
    const key = this.connection.key('counter', request.sliding ? 's' : 'f', String(windowMs), request.key);
    try {
      if (!request.sliding) {
        const [ok, value] = await this.connection.deadline(
          this.redis.bastionReserveFixed(key, windowMs, max, now),
        );
        if (ok !== 1) return { ok: false, retryAfterMs: value };
        return { ok: true, reservation: this.fixedReservation(key, value) };
      }
      const member = `${this.memberPrefix}.${(++this.sequence).toString(36)}`;
      const [ok, value] = await this.connection.deadline(
        this.redis.bastionReserveSliding(key, windowMs, max, now, member),
      );
      if (ok !== 1) return { ok: false, retryAfterMs: value };
      return { ok: true, reservation: this.slidingReservation(key, member) };
    } catch (err) {
      this.options.onFailure?.('reserve', err as Error);
      throw new CounterStoreUnavailableError(`the shared counter store did not answer: ${describe(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    // The connection belongs to the state store that made this counter store.
  }

  private fixedReservation(key: string, windowStart: number): Reservation {
    let returned = false;
    return {
      commit: () => resolved,
      rollback: async () => {
        if (returned) return;
        returned = true;
        await this.connection
          .deadline(this.redis.bastionRollbackFixed(key, windowStart))
          .catch((err: Error) => this.options.onFailure?.('rollback', err));
      },
    };
  }

  private slidingReservation(key: string, member: string): Reservation {
    let returned = false;
    return {
      commit: () => resolved,
      rollback: async () => {
        if (returned) return;
        returned = true;
        // ZREM is one command, atomic by itself: it removes exactly this call's mark, if still there.
        await this.connection
          .deadline(this.redis.zrem(key, member))
          .catch((err: Error) => this.options.onFailure?.('rollback', err));
      },
    };
  }
}

function describe(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  // ioredis's wording for the offline queue being off is about its option, not about Redis.
  if (message.includes('enableOfflineQueue options is false')) return 'Redis is not connected';
  return message;
}
