import { describe, expect, it } from 'vitest';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { fixedWindowStart } from '../src/limits/store.js';

const MINUTE = 60_000;
// 12:00:00.000 UTC on some day: windows aligned to the clock start here.
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function req(
  now: number,
  over: Partial<{ max: number; sliding: boolean; key: string; windowMs: number }> = {},
) {
  return { key: 'k', windowMs: MINUTE, max: 3, now, sliding: false, ...over };
}

describe('MemoryCounterStore', () => {
  it('aligns fixed windows to the clock', () => {
    expect(fixedWindowStart(T0 + 59_999, MINUTE)).toBe(T0);
    expect(fixedWindowStart(T0 + 60_000, MINUTE)).toBe(T0 + MINUTE);
  });

  it('admits max calls per fixed window and says when the window frees', async () => {
    const store = new MemoryCounterStore();
    for (let i = 0; i < 3; i++) expect((await store.reserve(req(T0 + 10_000))).ok).toBe(true);
    const refused = await store.reserve(req(T0 + 45_000));
    expect(refused).toEqual({ ok: false, retryAfterMs: 15_000 });
    expect((await store.reserve(req(T0 + MINUTE))).ok).toBe(true);
  });

  it('is exact under concurrency: 200 parallel reservations against max 60 admit 60', async () => {
    const store = new MemoryCounterStore();
    const results = await Promise.all(Array.from({ length: 200 }, () => store.reserve(req(T0, { max: 60 }))));
    expect(results.filter((r) => r.ok)).toHaveLength(60);
  });

  it('gives a unit back on rollback, once', async () => {
    const store = new MemoryCounterStore();
    const a = await store.reserve(req(T0, { max: 1 }));
    expect(a.ok).toBe(true);
    expect((await store.reserve(req(T0, { max: 1 }))).ok).toBe(false);
    if (!a.ok) throw new Error('unreachable');
    await a.reservation.rollback();
    await a.reservation.rollback();
    expect(store.count('k', T0)).toBe(0);
    expect((await store.reserve(req(T0, { max: 1 }))).ok).toBe(true);
    expect((await store.reserve(req(T0, { max: 1 }))).ok).toBe(false);
  });

  it('does not let a rollback from an old window lower the new one', async () => {
    const store = new MemoryCounterStore();
    const old = await store.reserve(req(T0, { max: 1 }));
    expect((await store.reserve(req(T0 + MINUTE, { max: 1 }))).ok).toBe(true);
    if (!old.ok) throw new Error('unreachable');
    await old.reservation.rollback();
    expect(store.count('k', T0 + MINUTE)).toBe(1);
  });

  it('keeps keys apart', async () => {
    const store = new MemoryCounterStore();
    expect((await store.reserve(req(T0, { max: 1, key: 'a' }))).ok).toBe(true);
    expect((await store.reserve(req(T0, { max: 1, key: 'b' }))).ok).toBe(true);
    expect((await store.reserve(req(T0, { max: 1, key: 'a' }))).ok).toBe(false);
  });

  it('slides a window over the last windowMs when asked', async () => {
    const store = new MemoryCounterStore();
    const s = (now: number) => store.reserve(req(now, { max: 2, sliding: true }));
    expect((await s(T0 + 50_000)).ok).toBe(true);
    expect((await s(T0 + 55_000)).ok).toBe(true);
    // A fixed window would have reset at T0 + 60 s; the sliding one still holds both calls.
    expect(await s(T0 + 61_000)).toEqual({ ok: false, retryAfterMs: 49_000 });
    expect((await s(T0 + 110_001)).ok).toBe(true);
    expect((await s(T0 + 110_002)).ok).toBe(false);
  });

  it('forgets expired keys once many have piled up', async () => {
    const store = new MemoryCounterStore();
    for (let i = 0; i < 1023; i++) await store.reserve(req(T0, { key: `s${i}` }));
    expect(store.size).toBe(1023);
    await store.reserve(req(T0 + 10 * MINUTE, { key: 'fresh' }));
    expect(store.size).toBe(1);
    expect(store.count('fresh', T0 + 10 * MINUTE)).toBe(1);
  });
});
