/**
 * Tasks for the 2026-07-28 era: the `io.modelcontextprotocol/tasks` extension (SEP-2663). Task
 * creation is server-directed: a `tools/call` of a tool that may run as a task, from a caller whose
 * per-request capabilities declare the extension, runs as usual; if it has not finished after
 * `afterMs`, its answer is a `CreateTaskResult` (`resultType: "task"`) and the call runs on as the
 * task. A call that finishes in time is answered exactly as without tasks, so a short command never
 * costs a round of polling. A caller without the extension never gets a task (the spec's MUST NOT).
 *
 * `tasks/get`, `tasks/update` and `tasks/cancel` are request handlers on the identity's McpServer
 * (`registerTaskMethods`), so the SDK applies the era's envelope and header rules to them (the
 * `Mcp-Name` header must carry the task id) and stamps `resultType: "complete"`.
 *
 * A call with a progress token is not turned into a task: the caller asked to follow it as it runs,
 * and the extension has no progress for tasks.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CLIENT_CAPABILITIES_META_KEY,
  type McpHttpHandler,
  type McpServer,
  ProtocolError,
} from '@modelcontextprotocol/server';
import { createParser } from 'eventsource-parser';
import { z } from 'zod';
import type { TaskToolsOptions } from './legacy.js';
import { type TaskOutcome, type TaskRecord, TaskTable, taskOnWire } from './table.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

export interface ModernTaskOptions extends TaskToolsOptions {
  /** A call still running after this long becomes a task. */
  afterMs: number;
}

/** The 2026 wire form of a task, with its outcome once it has one (`detailed`, for tasks/get). */
function wireTask(task: TaskRecord, detailed: boolean): Record<string, unknown> {
  const outcome = detailed && task.status !== 'cancelled' ? task.outcome : undefined;
  return {
    ...taskOnWire(task, '2026-07-28'),
    ...(outcome === undefined
      ? {}
      : 'error' in outcome
        ? { error: outcome.error }
        : { result: outcome.result }),
  };
}

const TaskIdParams = z.object({ taskId: z.string().min(1) }).loose();
const CallBody = z.object({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number()]),
  method: z.literal('tools/call'),
  params: z
    .object({
      name: z.string(),
      _meta: z.record(z.string(), z.unknown()).optional(),
    })
    .loose(),
});

/** What the SDK handler answered an HTTP request with, read to the end. */
interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** The tasks of one 2026-era identity. */
export class ModernTasks {
  private readonly table: TaskTable;

  constructor(private readonly options: ModernTaskOptions) {
    this.table = new TaskTable({ ...options, toolErrorFails: false });
  }

  /** Adds the extension and its methods to an McpServer built for one of this identity's requests. */
  registerTaskMethods(server: McpServer): void {
    server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } } as never);
    const unknown = (taskId: string) => new ProtocolError(-32602, `task not found: ${taskId}`);
    server.server.setRequestHandler('tasks/get', { params: TaskIdParams }, (params) => {
      const task = this.table.get(params.taskId);
      if (task === undefined) throw unknown(params.taskId);
      return wireTask(task, true) as never;
    });
    // No Bastion task asks for input, so no input request is ever outstanding: per the extension,
    // responses to keys that are not outstanding are ignored, and the update is acknowledged.
    server.server.setRequestHandler('tasks/update', { params: TaskIdParams }, (params) => {
      if (this.table.get(params.taskId) === undefined) throw unknown(params.taskId);
      return {} as never;
    });
    server.server.setRequestHandler('tasks/cancel', { params: TaskIdParams }, (params) => {
      const cancelled = this.table.cancel(params.taskId);
      if (cancelled === 'unknown') throw unknown(params.taskId);
      // Cancelling a finished task is acknowledged too (cancellation is cooperative); it stays as it ended.
      return {} as never;
    });
  }

  /**
   * Serves a `tools/call` that may become a task; false when this request is not one (the caller
   * then serves it as usual).
   */
  async serveCall(
    handler: McpHttpHandler,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    authInfo: unknown,
  ): Promise<boolean> {
    if ((body as { method?: unknown } | null)?.method !== 'tools/call') return false;
    const call = CallBody.safeParse(body);
    if (!call.success || !this.options.tools.has(call.data.params.name) || this.table.full) return false;
    const meta = call.data.params._meta ?? {};
    const capabilities = meta[CLIENT_CAPABILITIES_META_KEY] as
      | { extensions?: Record<string, unknown> }
      | undefined;
    if (capabilities?.extensions?.[TASKS_EXTENSION] === undefined || meta.progressToken !== undefined)
      return false;

    let answer: Answer | undefined;
    const task = this.table.create(async (signal) => {
      answer = await forward(handler, req, body, authInfo, signal);
      return outcomeOf(answer, call.data.id);
    });
    // A caller that goes away before it is answered cancels the call (2026: closing the request's
    // stream is how a client cancels), task or not.
    let answered = false;
    res.once('close', () => {
      if (!answered) this.table.cancel(task.taskId);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, this.options.afterMs, 'late');
    });
    const first = await Promise.race([task.settled.then(() => 'done' as const), late]);
    clearTimeout(timer);
    answered = true;
    if (first === 'done' && answer !== undefined) {
      // In time: the caller gets the call's own answer, and no task is left behind.
      this.table.discard(task.taskId);
      res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.text);
      return true;
    }
    const result = { resultType: 'task', ...wireTask(task, false) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: call.data.id, result }));
    return true;
  }

  close(): void {
    this.table.close();
  }
}

/** Serves the call with the SDK handler, outside the caller's HTTP exchange, and reads its answer. */
async function forward(
  handler: McpHttpHandler,
  req: IncomingMessage,
  body: unknown,
  authInfo: unknown,
  signal: AbortSignal,
): Promise<Answer> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  headers.delete('content-length');
  const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal,
  });
  const response = await handler.fetch(request, { authInfo: authInfo as never, parsedBody: body });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? 'application/json',
    text: await response.text(),
  };
}

/** The call's JSON-RPC answer, from a JSON body or the last message of an event stream. */
function outcomeOf(answer: Answer, id: string | number): TaskOutcome {
  const messages: unknown[] = [];
  if (answer.contentType.startsWith('text/event-stream')) {
    const parser = createParser({ onEvent: (event) => messages.push(JSON.parse(event.data)) });
    parser.feed(answer.text);
  } else {
    messages.push(JSON.parse(answer.text));
  }
  for (const message of messages) {
    const m = message as {
      id?: unknown;
      result?: Record<string, unknown>;
      error?: { code: number; message: string };
    };
    if (m.id !== id) continue;
    if (m.result !== undefined) return { result: m.result };
    if (m.error !== undefined) return { error: m.error };
  }
  return { error: { code: -32603, message: `the call ended without an answer (HTTP ${answer.status})` } };
}
