/**
 * The load generator's loops. Every loop is bounded twice (a call count and, for the concurrent
 * levels, a duration) and stops early when the run is aborted.
 */
import type { BenchSession } from './clients.js';
import { LatencyRecorder } from './histogram.js';

export interface LoadOutcome {
  recorder: LatencyRecorder;
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `warmup` unrecorded calls, then `calls` recorded ones, one at a time on one session; each of the
 * two phases also stops after `maxMs`.
 */
export async function runSequential(
  session: BenchSession,
  options: { warmup: number; calls: number; maxMs: number; signal: AbortSignal; recorder?: LatencyRecorder },
): Promise<LoadOutcome> {
  // A recorder may be passed in to collect several runs (interleaved rounds) in one histogram.
  const recorder = options.recorder ?? new LatencyRecorder();
  let errors = 0;
  let firstError: string | undefined;
  let sequence = 0;
  const warmupEnd = performance.now() + options.maxMs;
  for (let i = 0; i < options.warmup && !options.signal.aborted && performance.now() < warmupEnd; i++) {
    await session.call(sequence++).catch(() => undefined);
  }
  const started = performance.now();
  const end = started + options.maxMs;
  let calls = 0;
  for (; calls < options.calls && !options.signal.aborted && performance.now() < end; calls++) {
    const t0 = performance.now();
    try {
      await session.call(sequence++);
      recorder.record(performance.now() - t0);
    } catch (err) {
      errors++;
      firstError ??= describe(err);
    }
  }
  return { recorder, calls, errors, firstError, elapsedMs: performance.now() - started };
}

/**
 * Each session calls back to back (a closed loop) until `durationMs` has passed or `maxCalls`
 * calls have been started across all sessions.
 */
export async function runConcurrent(
  sessions: readonly BenchSession[],
  options: { durationMs: number; maxCalls: number; signal: AbortSignal },
): Promise<LoadOutcome> {
  const recorder = new LatencyRecorder();
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + options.durationMs;
  const worker = async (session: BenchSession) => {
    while (started < options.maxCalls && performance.now() < deadline && !options.signal.aborted) {
      const sequence = started++;
      const callStart = performance.now();
      try {
        await session.call(sequence);
        recorder.record(performance.now() - callStart);
      } catch (err) {
        errors++;
        firstError ??= describe(err);
      }
    }
  };
  await Promise.all(sessions.map(worker));
  return { recorder, calls: started, errors, firstError, elapsedMs: performance.now() - t0 };
}

/** Runs `task` over `items` with at most `parallelism` in flight; results keep their order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  parallelism: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, lane));
  return results;
}

/** Opens `count` sessions, `parallelism` at a time; on any failure closes those opened and rethrows. */
export async function openSessions(
  open: () => Promise<BenchSession>,
  count: number,
  options: { parallelism: number; signal: AbortSignal },
): Promise<BenchSession[]> {
  const opened: BenchSession[] = [];
  try {
    await mapLimited(Array.from({ length: count }), options.parallelism, async () => {
      options.signal.throwIfAborted();
      opened.push(await open());
    });
  } catch (err) {
    await closeSessions(opened);
    throw err;
  }
  return opened;
}

export async function closeSessions(sessions: readonly BenchSession[], parallelism = 16): Promise<void> {
  await mapLimited(sessions, parallelism, (s) => s.close().catch(() => undefined));
}
