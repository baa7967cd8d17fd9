/**
 * The load generator's loops (they run in the generator's own process, load-worker.ts). Every loop
 * is bounded twice (a call count and a duration) and stops early when the run is aborted.
 */
import { LatencyRecorder } from './histogram.js';
import type { BenchSession } from './wire.js';

export interface LoadOutcome {
  recorder: LatencyRecorder;
  /** Calls started (recorded ones are `recorder.count`; the rest failed). */
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** The next unused sequence number (JSON-RPC ids keep growing across loops on one session). */
  nextSequence: number;
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
  options: {
    warmup: number;
    calls: number;
    maxMs: number;
    signal: AbortSignal;
    recorder?: LatencyRecorder;
    firstSequence?: number;
  },
): Promise<LoadOutcome> {
  // A recorder may be passed in to collect several runs (interleaved rounds) in one histogram.
  const recorder = options.recorder ?? new LatencyRecorder();
  let errors = 0;
  let firstError: string | undefined;
  let sequence = options.firstSequence ?? 0;
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
  return {
    recorder,
    calls,
    errors,
    firstError,
    elapsedMs: performance.now() - started,
    nextSequence: sequence,
  };
}

/**
 * Each session calls back to back (a closed loop) until `durationMs` has passed or `maxCalls`
 * calls have been started across all sessions.
 */
export async function runConcurrent(
  sessions: readonly BenchSession[],
  options: { durationMs: number; maxCalls: number; signal: AbortSignal; firstSequence?: number },
): Promise<LoadOutcome> {
  const recorder = new LatencyRecorder();
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const first = options.firstSequence ?? 0;
  const t0 = performance.now();
  const deadline = t0 + options.durationMs;
  const worker = async (session: BenchSession) => {
    while (started < options.maxCalls && performance.now() < deadline && !options.signal.aborted) {
      const sequence = first + started++;
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
  return {
    recorder,
    calls: started,
    errors,
    firstError,
    elapsedMs: performance.now() - t0,
    nextSequence: first + started,
  };
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

/**
 * Opens up to `count` sessions, `parallelism` at a time, and stops at the first failure, after
 * `maxMs`, or on abort. What was opened is kept either way: the idle-session ladder holds it, and
 * says how far it got and why it stopped.
 */
export async function openUpTo(
  open: () => Promise<BenchSession>,
  count: number,
  options: { parallelism: number; signal: AbortSignal; maxMs: number },
): Promise<{ sessions: BenchSession[]; firstError?: string; elapsedMs: number }> {
  const sessions: BenchSession[] = [];
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + options.maxMs;
  const lane = async () => {
    while (
      started < count &&
      firstError === undefined &&
      !options.signal.aborted &&
      performance.now() < deadline
    ) {
      started++;
      try {
        sessions.push(await open());
      } catch (err) {
        firstError ??= describe(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallelism, count) }, lane));
  const elapsedMs = performance.now() - t0;
  return firstError === undefined ? { sessions, elapsedMs } : { sessions, firstError, elapsedMs };
}

export async function closeSessions(sessions: readonly BenchSession[], parallelism = 16): Promise<void> {
  await mapLimited(sessions, parallelism, (s) => s.close().catch(() => undefined));
}
