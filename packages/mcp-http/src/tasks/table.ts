/**
 * Tasks: a tool call that runs on after its request was answered with a handle, which the client
 * polls. Both protocol eras have them with different wire shapes: 2025-11-25 in the core
 * (experimental: `params.task` on `tools/call`, `tasks/get|result|list|cancel`, legacy.ts), and
 * 2026-07-28 as the `io.modelcontextprotocol/tasks` extension (server-directed, `resultType: "task"`,
 * `tasks/get|update|cancel`, modern.ts). This table is what both share: one record per task, its
 * status, its outcome, its cancellation, and when it is forgotten.
 *
 * Why by hand: the v2 SDK ships the task schemas but no task runtime (its v1 line's `TaskStore`
 * works inside the v1 Protocol class only), and no library serves tasks to both eras.
 */
import { randomUUID } from 'node:crypto';
import type { JSONRPCErrorResponse } from '@modelcontextprotocol/server';

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** How the work behind a task ended: the request's result, or its JSON-RPC error. */
export type TaskOutcome = { result: Record<string, unknown> } | { error: JSONRPCErrorResponse['error'] };

export interface TaskRecord {
  readonly taskId: string;
  status: TaskStatus;
  statusMessage: string | undefined;
  readonly createdAt: Date;
  lastUpdatedAt: Date;
  /** How long the task is kept after it was created (both eras count from creation). */
  readonly ttlMs: number;
  readonly pollIntervalMs: number;
  outcome: TaskOutcome | undefined;
  /** Resolves once the task is terminal. */
  readonly settled: Promise<void>;
}

export interface TaskTableOptions {
  /** Tasks kept at once (running or not yet forgotten); a new one beyond it is refused. */
  maxTasks: number;
  /** Default and largest time-to-live. */
  ttlMs: number;
  pollIntervalMs: number;
  /**
   * Whether a result with `isError: true` fails the task. 2025-11-25: yes ("failed" for a tool
   * error); the 2026 extension keeps `failed` for JSON-RPC errors only.
   */
  toolErrorFails: boolean;
}

/** A task as either era puts it on the wire: the same fields, but `ttl`/`pollInterval` in 2025-11-25. */
export function taskOnWire(task: TaskRecord, era: '2025-11-25' | '2026-07-28'): Record<string, unknown> {
  const modern = era === '2026-07-28';
  return {
    taskId: task.taskId,
    status: task.status,
    ...(task.statusMessage === undefined ? {} : { statusMessage: task.statusMessage }),
    createdAt: task.createdAt.toISOString(),
    lastUpdatedAt: task.lastUpdatedAt.toISOString(),
    [modern ? 'ttlMs' : 'ttl']: task.ttlMs,
    [modern ? 'pollIntervalMs' : 'pollInterval']: task.pollIntervalMs,
  };
}

const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);
export const isTerminal = (status: TaskStatus): boolean => TERMINAL.has(status);

interface Entry {
  record: TaskRecord;
  abort: AbortController;
  settle: () => void;
  expiry: NodeJS.Timeout;
}

/** The tasks of one owner (a 2025-era session, or a 2026-era identity): ids from other owners are unknown here. */
export class TaskTable {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly options: TaskTableOptions) {}

  /** Refuses before any work starts, so the caller can answer the request with an error instead. */
  get full(): boolean {
    return this.entries.size >= this.options.maxTasks;
  }

  /**
   * Starts `run` as a task: it gets a signal that aborts on cancellation or close, and settles the
   * task with what it resolves to (a rejection becomes a JSON-RPC internal error).
   */
  create(run: (signal: AbortSignal) => Promise<TaskOutcome>, requestedTtlMs?: number): TaskRecord {
    if (this.closed) throw new Error('the task table is closed');
    const ttlMs = Math.min(requestedTtlMs ?? this.options.ttlMs, this.options.ttlMs);
    const now = new Date();
    let settle = () => {};
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const record: TaskRecord = {
      taskId: randomUUID(),
      status: 'working',
      statusMessage: undefined,
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs,
      pollIntervalMs: this.options.pollIntervalMs,
      outcome: undefined,
      settled,
    };
    const abort = new AbortController();
    // The TTL counts from creation: a task past it is forgotten (and its work ended if still running).
    const expiry = setTimeout(() => this.forget(record.taskId, 'its time to live ran out'), ttlMs);
    expiry.unref();
    this.entries.set(record.taskId, { record, abort, settle, expiry });
    run(abort.signal).then(
      (outcome) => this.finish(record.taskId, outcome),
      (err: unknown) =>
        this.finish(record.taskId, {
          error: { code: -32603, message: err instanceof Error ? err.message : String(err) },
        }),
    );
    return record;
  }

  get(taskId: string): TaskRecord | undefined {
    return this.entries.get(taskId)?.record;
  }

  list(): TaskRecord[] {
    return [...this.entries.values()].map((e) => e.record);
  }

  /**
   * Cancels a running task: it is `cancelled` at once (and stays so whatever its work does next),
   * and its work is aborted. Returns the record, or why not.
   */
  cancel(taskId: string): TaskRecord | 'unknown' | 'terminal' {
    const entry = this.entries.get(taskId);
    if (entry === undefined) return 'unknown';
    if (isTerminal(entry.record.status)) return 'terminal';
    this.transition(entry, 'cancelled', 'cancelled by the client; its work was ended');
    entry.abort.abort(new Error('task cancelled'));
    return entry.record;
  }

  /** Forgets a task that ended before anyone saw its id (modern.ts answers such a call directly). */
  discard(taskId: string): void {
    const entry = this.entries.get(taskId);
    if (entry === undefined || !isTerminal(entry.record.status)) return;
    clearTimeout(entry.expiry);
    this.entries.delete(taskId);
  }

  /** Ends every running task's work and forgets all tasks. */
  close(): void {
    this.closed = true;
    for (const id of [...this.entries.keys()]) this.forget(id, 'the server closed');
  }

  private finish(taskId: string, outcome: TaskOutcome): void {
    const entry = this.entries.get(taskId);
    // Cancelled (or forgotten) first: that status stands.
    if (entry === undefined || isTerminal(entry.record.status)) return;
    entry.record.outcome = outcome;
    if ('error' in outcome) {
      this.transition(entry, 'failed', outcome.error.message);
    } else if (outcome.result.isError === true && this.options.toolErrorFails) {
      this.transition(entry, 'failed', firstText(outcome.result) ?? 'the tool reported an error');
    } else {
      this.transition(entry, 'completed', undefined);
    }
  }

  private transition(entry: Entry, status: TaskStatus, message: string | undefined): void {
    entry.record.status = status;
    entry.record.statusMessage = message;
    entry.record.lastUpdatedAt = new Date();
    if (isTerminal(status)) entry.settle();
  }

  private forget(taskId: string, why: string): void {
    const entry = this.entries.get(taskId);
    if (entry === undefined) return;
    clearTimeout(entry.expiry);
    this.entries.delete(taskId);
    if (!isTerminal(entry.record.status)) {
      this.transition(entry, 'cancelled', `ended: ${why}`);
      entry.abort.abort(new Error(why));
    }
  }
}

function firstText(result: Record<string, unknown>): string | undefined {
  const content = result.content;
  if (!Array.isArray(content)) return undefined;
  const text = content.find((c): c is { type: 'text'; text: string } => c?.type === 'text');
  return text?.text.split('\n')[0];
}
