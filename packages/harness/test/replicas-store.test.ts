/**
 * The gateway's shared store in Redis, against a real redis-server (process tier) or a Redis
 * container: counters exact under concurrency from several stores (one per replica, each with its
 * own connection), the in-memory store's semantics, Redis's clock, failing closed, record tables.
 */
import {
  CounterStoreUnavailableError,
  MemoryCounterStore,
  RedisStateStore,
  type ReserveRequest,
} from '@bastion/gateway';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { freePort } from '../src/targets/process.js';
import { redisProviders } from '../src/targets/redis/index.js';
import { describeEachTier } from '../src/testing/tiers.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
let keySeq = 0;
/** A fresh counter per test: the Redis server is shared by the file's tests. */
const freshKey = () => `test-${process.pid}-${Date.now().toString(36)}-${++keySeq}`;

describeEachTier('redis shared store', redisProviders, (ctx) => {
  const opened: RedisStateStore[] = [];
  async function store(
    options: { time?: 'redis' | 'request'; timeoutMs?: number; url?: string } = {},
  ): Promise<RedisStateStore> {
    const s = new RedisStateStore({
      url: options.url ?? ctx.target().url,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      counters: { time: options.time ?? 'redis' },
    });
    opened.push(s);
    await s.start();
    return s;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  const request = (over: Partial<ReserveRequest> & { key: string }): ReserveRequest => ({
    windowMs: MINUTE,
    max: 3,
    now: T0,
    sliding: false,
    ...over,
  });

  /** 1,000 reservations from 3 stores (3 connections, as 3 replicas) against max 50. */
  async function exactly(sliding: boolean): Promise<void> {
    const replicas = await Promise.all([store(), store(), store()]);
    const key = freshKey();
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        (replicas[i % 3] as RedisStateStore).counters.reserve(
          request({ key, max: 50, sliding, now: Date.now() }),
        ),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    const refused = results.find((r) => !r.ok);
    expect(refused?.ok === false && refused.retryAfterMs > 0).toBe(true);
  }

  it(`${verifies('replicas.counters.exact-fixed')}: 1,000 reservations from 3 stores, max 50`, () =>
    exactly(false));

  it(`${verifies('replicas.counters.exact-sliding')}: 1,000 reservations from 3 stores, max 50`, () =>
    exactly(true));

  it(`${verifies('replicas.counters.semantics')}: fixed windows as in memory`, async () => {
    const redis = (await store({ time: 'request' })).counters;
    const memory = new MemoryCounterStore();
    const key = freshKey();
    for (const s of [redis, memory]) {
      for (let i = 0; i < 3; i++) expect((await s.reserve(request({ key, now: T0 + 10_000 }))).ok).toBe(true);
      expect(await s.reserve(request({ key, now: T0 + 45_000 }))).toEqual({
        ok: false,
        retryAfterMs: 15_000,
      });
      expect((await s.reserve(request({ key, now: T0 + MINUTE }))).ok).toBe(true);
    }
  });

  it(`${verifies('replicas.counters.semantics')}: a rollback returns its unit once, to its own window only`, async () => {
    const redis = (await store({ time: 'request' })).counters;
    const key = freshKey();
    const first = await redis.reserve(request({ key, max: 1 }));
    expect((await redis.reserve(request({ key, max: 1 }))).ok).toBe(false);
    if (!first.ok) throw new Error('first reservation refused');
    await first.reservation.rollback();
    await first.reservation.rollback();
    const second = await redis.reserve(request({ key, max: 1 }));
    expect(second.ok).toBe(true);
    expect((await redis.reserve(request({ key, max: 1 }))).ok).toBe(false);
    // A unit taken in one window and returned after the next began does not raise the new window.
    const late = await redis.reserve(request({ key: `${key}-late`, max: 1, now: T0 }));
    expect((await redis.reserve(request({ key: `${key}-late`, max: 1, now: T0 + MINUTE }))).ok).toBe(true);
    if (late.ok) await late.reservation.rollback();
    expect((await redis.reserve(request({ key: `${key}-late`, max: 1, now: T0 + MINUTE }))).ok).toBe(false);
  });

  it(`${verifies('replicas.counters.semantics')}: sliding windows as in memory`, async () => {
    const redis = (await store({ time: 'request' })).counters;
    const memory = new MemoryCounterStore();
    const key = freshKey();
    for (const s of [redis, memory]) {
      const at = (ms: number) => request({ key, sliding: true, max: 2, now: T0 + ms });
      expect((await s.reserve(at(0))).ok).toBe(true);
      expect((await s.reserve(at(30_000))).ok).toBe(true);
      expect(await s.reserve(at(40_000))).toEqual({ ok: false, retryAfterMs: 20_000 });
      expect((await s.reserve(at(60_001))).ok).toBe(true);
      const last = await s.reserve(at(60_002));
      expect(last.ok).toBe(false);
      // Rolling back the newest frees exactly one place.
      const again = await s.reserve(at(90_001));
      expect(again.ok).toBe(true);
      if (again.ok) await again.reservation.rollback();
      expect((await s.reserve(at(90_002))).ok).toBe(true);
    }
  });

  it(`${verifies('replicas.counters.redis-time')}: callers whose clocks disagree by an hour share one window`, async () => {
    const counters = (await store()).counters;
    const key = freshKey();
    const skewed = [Date.now() - 3_600_000, Date.now(), Date.now() + 3_600_000];
    const results = [];
    for (let i = 0; i < 6; i++)
      results.push(
        await counters.reserve(request({ key, windowMs: 3_600_000, now: skewed[i % 3] as number })),
      );
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false, false, false]);
  });

  it(`${verifies('replicas.counters.reload-keeps-counts')}: a lower max after a reload counts what was taken`, async () => {
    const counters = (await store()).counters;
    const key = freshKey();
    for (let i = 0; i < 3; i++) expect((await counters.reserve(request({ key, max: 5 }))).ok).toBe(true);
    expect((await counters.reserve(request({ key, max: 3 }))).ok).toBe(false);
    expect((await counters.reserve(request({ key, max: 4 }))).ok).toBe(true);
  });

  it(`${verifies('replicas.fail-closed.down')}: a store with no Redis behind it refuses at once`, async () => {
    const nobody = await freePort();
    const counters = (await store({ url: `redis://127.0.0.1:${nobody}` })).counters;
    await expect(counters.reserve(request({ key: freshKey() }))).rejects.toBeInstanceOf(
      CounterStoreUnavailableError,
    );
  });

  ctx.itWith('restart')(
    `${verifies('replicas.fail-closed.recovers')}: after Redis restarts the same store counts again`,
    async () => {
      const counters = (await store()).counters;
      expect((await counters.reserve(request({ key: freshKey() }))).ok).toBe(true);
      await ctx.target().restart();
      // Reconnection is in the background: the store is usable again without being made anew.
      await expect
        .poll(async () => (await counters.reserve(request({ key: freshKey() }))).ok, { timeout: 15_000 })
        .toBe(true);
    },
    30_000,
  );

  ctx.itWith('restart')(
    `${verifies('replicas.fail-closed.slow')}: a paused Redis fails the reservation after the timeout`,
    async () => {
      const counters = (await store({ timeoutMs: 200 })).counters;
      expect((await counters.reserve(request({ key: freshKey() }))).ok).toBe(true);
      const admin = new Redis(ctx.target().url, { lazyConnect: true });
      await admin.connect();
      try {
        // CLIENT PAUSE holds every other client's commands unanswered: a Redis that is there but slow.
        await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
        await expect(counters.reserve(request({ key: freshKey() }))).rejects.toThrow(/timed out/i);
      } finally {
        await admin.call('CLIENT', 'UNPAUSE');
        admin.disconnect();
      }
    },
  );

  it(`${verifies('replicas.store.tables')}: records cross stores, a take wins once, records expire`, async () => {
    const [a, b, c] = await Promise.all([store(), store(), store()]);
    const name = freshKey();
    await a.table<{ tool: string }>(name).put('k1', { tool: 'mqttPublish' });
    expect(await b.table<{ tool: string }>(name).get('k1')).toEqual({ tool: 'mqttPublish' });
    const takes = await Promise.all([a, b, c].map((s) => s.table(name).take('k1')));
    expect(takes.filter((t) => t !== undefined)).toHaveLength(1);
    await a.table(name).put('short', 1, 50);
    await a.table(name).put('long', 2);
    await expect.poll(() => c.table(name).get('short'), { timeout: 5_000 }).toBeUndefined();
    expect(await c.table(name).keys()).toEqual(['long']);
    await b.table(name).delete('long');
    expect(await a.table(name).keys()).toEqual([]);
  });

  describe('session records', () => {
    it(`${verifies('replicas.store.tables')}: a session one store saved is loaded by another until dropped`, async () => {
      const [a, b] = await Promise.all([store(), store()]);
      const id = freshKey();
      const record = {
        server: 'mqtt',
        principal: { id: 'alice', kind: 'grant' as const },
        protocolVersion: '2025-11-25',
        clientInfo: { name: 'agent', version: '1' },
        capabilities: {},
      };
      await a.sessions.save(id, record);
      expect(await b.sessions.load(id)).toEqual(record);
      await b.sessions.drop(id);
      expect(await a.sessions.load(id)).toBeUndefined();
    });
  });
});
