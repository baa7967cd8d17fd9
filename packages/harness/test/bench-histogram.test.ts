import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../src/bench/histogram.js';
import { mapLimited, openUpTo, runConcurrent, runSequential } from '../src/bench/load.js';
import type { BenchSession } from '../src/bench/wire.js';

describe('the latency recorder', () => {
  it('gives the percentiles of 1..1000 ms within the histogram precision of 0.1 %', () => {
    const recorder = new LatencyRecorder();
    for (let v = 1; v <= 1000; v++) recorder.record(v);
    const s = recorder.summary();
    expect(s.count).toBe(1000);
    expect(s.minMs).toBeCloseTo(1, 2);
    expect(s.meanMs).toBeCloseTo(500.5, 0);
    for (const [got, want] of [
      [s.p50Ms, 500],
      [s.p90Ms, 900],
      [s.p99Ms, 990],
      [s.p999Ms, 999],
      [s.maxMs, 1000],
    ] as const) {
      expect(Math.abs(got - want) / want).toBeLessThanOrEqual(0.001);
    }
  });

  it('keeps sub-millisecond latencies to the microsecond', () => {
    const recorder = new LatencyRecorder();
    recorder.record(0.25);
    recorder.record(0.251);
    recorder.record(0.0001);
    expect(recorder.summary().minMs).toBe(0.001);
    expect(recorder.percentileMs(100)).toBeCloseTo(0.251, 3);
  });

  it('reports zeros and an empty distribution before anything is recorded', () => {
    const recorder = new LatencyRecorder();
    expect(recorder.summary()).toEqual({
      count: 0,
      minMs: 0,
      meanMs: 0,
      p50Ms: 0,
      p90Ms: 0,
      p99Ms: 0,
      p999Ms: 0,
      maxMs: 0,
    });
    expect(recorder.distribution()).toEqual([]);
  });

  it('draws a distribution that rises with the percentile and ends at the maximum', () => {
    const recorder = new LatencyRecorder();
    for (let i = 0; i < 10_000; i++) recorder.record(0.5 + (i % 100) / 10);
    recorder.record(250);
    const points = recorder.distribution();
    expect(points[0]).toEqual({ percentile: 0, ms: expect.any(Number) });
    expect(points.at(-1)).toEqual({ percentile: 100, ms: 250 });
    for (let i = 1; i < points.length; i++) {
      const prev = points[i - 1];
      const cur = points[i];
      expect(cur?.percentile).toBeGreaterThan(prev?.percentile ?? -1);
      expect(cur?.ms).toBeGreaterThanOrEqual(prev?.ms ?? 0);
    }
    // Out to 99.99 % for 10,001 samples (four decades), not beyond.
    const beforeMax = points.at(-2)?.percentile ?? 0;
    expect(beforeMax).toBeGreaterThanOrEqual(99.99);
    expect(beforeMax).toBeLessThan(100);
  });

  it('clamps a latency beyond one minute instead of throwing', () => {
    const recorder = new LatencyRecorder();
    recorder.record(10 * 60_000);
    expect(recorder.summary().maxMs).toBeCloseTo(60_000, -2);
  });

  it('encodes the whole histogram so that it can be decoded with the same counts', () => {
    const recorder = new LatencyRecorder();
    for (let v = 1; v <= 500; v++) recorder.record(v / 10);
    const decoded = decodeFromCompressedBase64(recorder.encode());
    expect(decoded.totalCount).toBe(500);
    expect(decoded.getValueAtPercentile(50) / 1000).toBeCloseTo(recorder.percentileMs(50), 3);
  });

  it('adds the calls of an encoded histogram to its own (the load generator sends them so)', () => {
    const here = new LatencyRecorder();
    for (let v = 1; v <= 100; v++) here.record(v);
    const there = new LatencyRecorder();
    for (let v = 101; v <= 300; v++) there.record(v);
    here.addEncoded(there.encode());
    const s = here.summary();
    expect(s.count).toBe(300);
    expect(s.maxMs).toBeCloseTo(300, 0);
    expect(Math.abs(s.p50Ms - 150) / 150).toBeLessThanOrEqual(0.001);
  });
});

/** A session whose calls take `ms` and fail on every `failEvery`-th call. */
function fakeSession(ms: number, failEvery = 0): BenchSession & { calls: number; closed: boolean } {
  const session = {
    calls: 0,
    closed: false,
    async call() {
      session.calls++;
      await new Promise((r) => setTimeout(r, ms));
      if (failEvery > 0 && session.calls % failEvery === 0) throw new Error(`call ${session.calls} failed`);
    },
    async close() {
      session.closed = true;
    },
  };
  return session;
}

describe('the load loops', () => {
  it('records only the measured calls of a sequential run and counts its errors', async () => {
    const session = fakeSession(0, 5);
    const outcome = await runSequential(session, {
      warmup: 10,
      calls: 20,
      maxMs: 60_000,
      signal: new AbortController().signal,
    });
    expect(session.calls).toBe(30);
    expect(outcome.calls).toBe(20);
    expect(outcome.errors).toBe(4);
    expect(outcome.recorder.count).toBe(16);
    expect(outcome.firstError).toMatch(/failed/);
  });

  it('stops a concurrent run at its call cap across all sessions', async () => {
    const sessions = [fakeSession(1), fakeSession(1), fakeSession(1)];
    const outcome = await runConcurrent(sessions, {
      durationMs: 60_000,
      maxCalls: 30,
      signal: new AbortController().signal,
    });
    expect(outcome.calls).toBe(30);
    expect(sessions.reduce((n, s) => n + s.calls, 0)).toBe(30);
    expect(sessions.every((s) => s.calls > 0)).toBe(true);
  });

  it('stops a concurrent run when it is aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const outcome = await runConcurrent([fakeSession(2)], {
      durationMs: 60_000,
      maxCalls: 1_000_000,
      signal: controller.signal,
    });
    expect(outcome.calls).toBeLessThan(1_000_000);
  });

  it('runs at most `parallelism` tasks at once and keeps the results in order', async () => {
    let running = 0;
    let most = 0;
    const results = await mapLimited([5, 1, 3, 2, 4, 0], 2, async (v) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, v));
      running--;
      return v * 10;
    });
    expect(results).toEqual([50, 10, 30, 20, 40, 0]);
    expect(most).toBe(2);
  });

  it('keeps the sessions it opened and stops at the first failure', async () => {
    let attempts = 0;
    const outcome = await openUpTo(
      async () => {
        attempts++;
        if (attempts === 4) throw new Error('EMFILE');
        return fakeSession(0);
      },
      10,
      { parallelism: 1, signal: new AbortController().signal, maxMs: 60_000 },
    );
    expect(outcome.sessions).toHaveLength(3);
    expect(outcome.firstError).toBe('EMFILE');
    expect(attempts).toBe(4);
    expect(outcome.sessions.every((s) => !(s as ReturnType<typeof fakeSession>).closed)).toBe(true);
  });

  it('stops opening at its time cap and says nothing failed', async () => {
    const outcome = await openUpTo(async () => fakeSession(0), 1_000_000, {
      parallelism: 4,
      signal: new AbortController().signal,
      maxMs: 30,
    });
    expect(outcome.sessions.length).toBeGreaterThan(0);
    expect(outcome.sessions.length).toBeLessThan(1_000_000);
    expect(outcome.firstError).toBeUndefined();
  });

  it('numbers calls on from a given sequence, across loops', async () => {
    const seen: number[] = [];
    const session: BenchSession = {
      async call(sequence) {
        seen.push(sequence);
      },
      async close() {},
    };
    const signal = new AbortController().signal;
    const first = await runSequential(session, {
      warmup: 2,
      calls: 3,
      maxMs: 60_000,
      signal,
      firstSequence: 100,
    });
    const second = await runConcurrent([session], {
      durationMs: 60_000,
      maxCalls: 2,
      signal,
      firstSequence: first.nextSequence,
    });
    expect(seen).toEqual([100, 101, 102, 103, 104, 105, 106]);
    expect(second.nextSequence).toBe(107);
  });
});
