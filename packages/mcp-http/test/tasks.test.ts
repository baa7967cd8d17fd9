/**
 * The task table both eras share: statuses, outcomes, cancellation, the cap, and the time to live
 * (a fake clock for the TTL arithmetic only; the wire forms are tested against real clients in the
 * harness, ssh-tasks.test.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type TaskOutcome, TaskTable } from '../src/tasks/table.js';

const options = { maxTasks: 2, ttlMs: 60_000, pollIntervalMs: 500 };

/** Work that ends when told to, or when aborted. */
function work() {
  let finish: (outcome: TaskOutcome) => void = () => {};
  let signal: AbortSignal | undefined;
  const run = (s: AbortSignal) => {
    signal = s;
    return new Promise<TaskOutcome>((resolve) => {
      finish = resolve;
    });
  };
  return { run, finish: (o: TaskOutcome) => finish(o), aborted: () => signal?.aborted === true };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TaskTable', () => {
  it('runs a task to completed, failed (JSON-RPC error) or, per era, failed on a tool error', async () => {
    const table = new TaskTable({ ...options, toolErrorFails: true });
    const ok = work();
    const task = table.create(ok.run);
    expect(task).toMatchObject({ status: 'working', ttlMs: 60_000, pollIntervalMs: 500 });
    ok.finish({ result: { content: [], structuredContent: { n: 1 } } });
    await task.settled;
    expect(task.status).toBe('completed');
    expect(task.outcome).toEqual({ result: { content: [], structuredContent: { n: 1 } } });

    const toolError = work();
    const failed = table.create(toolError.run);
    toolError.finish({ result: { isError: true, content: [{ type: 'text', text: 'exited 3\nmore' }] } });
    await failed.settled;
    expect(failed).toMatchObject({ status: 'failed', statusMessage: 'exited 3' });
    table.close();

    // The 2026 extension: a tool error is a completed task; failed is for JSON-RPC errors.
    const modern = new TaskTable({ ...options, toolErrorFails: false });
    const a = work();
    const completed = modern.create(a.run);
    a.finish({ result: { isError: true, content: [] } });
    await completed.settled;
    expect(completed.status).toBe('completed');
    const b = work();
    const rpcError = modern.create(b.run);
    b.finish({ error: { code: -32602, message: 'bad' } });
    await rpcError.settled;
    expect(rpcError).toMatchObject({ status: 'failed', statusMessage: 'bad' });
    modern.close();
  });

  it('cancels a running task once: its work is aborted and it stays cancelled', async () => {
    const table = new TaskTable({ ...options, toolErrorFails: true });
    const w = work();
    const task = table.create(w.run);
    expect(table.cancel(task.taskId)).toBe(task);
    expect(w.aborted()).toBe(true);
    w.finish({ result: { content: [] } });
    await task.settled;
    expect(task.status).toBe('cancelled');
    expect(table.cancel(task.taskId)).toBe('terminal');
    expect(table.cancel('nope')).toBe('unknown');
    table.close();
  });

  it('is full at maxTasks, and a task that throws fails with an internal error', async () => {
    const table = new TaskTable({ ...options, toolErrorFails: true });
    const first = table.create(() => Promise.reject(new Error('boom')));
    table.create(work().run);
    expect(table.full).toBe(true);
    await first.settled;
    expect(first.outcome).toEqual({ error: { code: -32603, message: 'boom' } });
    table.close();
    expect(() => table.create(work().run)).toThrow('closed');
  });

  it('forgets a task when its TTL (capped by the table) runs out, ending its work if it still runs', async () => {
    vi.useFakeTimers();
    const table = new TaskTable({ ...options, toolErrorFails: true });
    const w = work();
    const task = table.create(w.run, 10 * 60_000);
    expect(task.ttlMs).toBe(60_000);
    vi.advanceTimersByTime(59_999);
    expect(table.get(task.taskId)).toBe(task);
    vi.advanceTimersByTime(1);
    expect(table.get(task.taskId)).toBeUndefined();
    expect(w.aborted()).toBe(true);
    expect(task).toMatchObject({ status: 'cancelled', statusMessage: 'ended: its time to live ran out' });
    expect(table.full).toBe(false);
    table.close();
  });
});
