/**
 * Tasks for a 2025-11-25 session (the spec's experimental `tasks`): a transport between the
 * session's transport (Streamable HTTP, legacy SSE, or stdio) and its McpServer. A `tools/call`
 * with `params.task` for a tool that runs as a task is answered at once with `CreateTaskResult`,
 * and passed on to the McpServer as an ordinary call under an internal id, whose response becomes
 * the task's outcome. `tasks/get`, `tasks/result`,
 * `tasks/list` and `tasks/cancel` are answered here. Everything else passes through untouched.
 *
 * The McpServer never sees a task: its tool handler, input validation and output-schema checks run
 * exactly as for a plain call, so a task's result is the one the plain call would have returned.
 * Cancelling a task sends the McpServer `notifications/cancelled` for the internal id, which aborts
 * the tool's signal (for `exec`: the remote command is ended).
 */
import type {
  JSONRPCErrorResponse,
  JSONRPCMessage,
  JSONRPCRequest,
  MessageExtraInfo,
  RequestId,
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { isRequestMessage, isResponseMessage } from '../messages.js';
import {
  isTerminal,
  type TaskOutcome,
  type TaskRecord,
  TaskTable,
  type TaskTableOptions,
  taskOnWire,
} from './table.js';

export const RELATED_TASK_KEY = 'io.modelcontextprotocol/related-task';

export interface TaskToolsOptions extends Omit<TaskTableOptions, 'toolErrorFails'> {
  /** The tools that may run as tasks (they advertise `execution.taskSupport: "optional"`). */
  tools: ReadonlySet<string>;
}

/** Internal request ids: never a client's (clients number theirs, and this prefix is ours). */
const INTERNAL = 'bastion-task:';
const isInternal = (id: RequestId | undefined): boolean => typeof id === 'string' && id.startsWith(INTERNAL);

const TaskParams = z.object({ ttl: z.number().int().min(1).optional() }).loose();
const TaskIdParams = z.object({ taskId: z.string().min(1) }).loose();

const wireTask = (task: TaskRecord) => taskOnWire(task, '2025-11-25');

type Reply = { result: Record<string, unknown> } | { error: JSONRPCErrorResponse['error'] };
const invalidParams = (message: string): Reply => ({ error: { code: -32602, message } });

export class LegacyTaskTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private readonly table: TaskTable;
  /** Internal calls waiting for the McpServer's response. */
  private readonly pending = new Map<RequestId, (response: TaskOutcome) => void>();
  private readonly initializeIds = new Set<RequestId>();
  /**
   * Tasks are 2025-era only here: a wire that both eras share (stdio) carries a 2026 connection
   * without `initialize`, whose task methods are the extension's and are not this layer's to answer.
   */
  private initialized = false;
  private nextInternal = 0;

  constructor(
    private readonly inner: Transport,
    private readonly options: TaskToolsOptions,
  ) {
    this.table = new TaskTable({ ...options, toolErrorFails: true });
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion = (version: string): void => this.inner.setProtocolVersion?.(version);

  async start(): Promise<void> {
    // The host may have set its own callbacks on the transport (to end the session): keep them.
    const { onclose, onerror } = this.inner;
    this.inner.onmessage = (message, extra) => this.receive(message, extra);
    this.inner.onerror = (error) => {
      onerror?.(error);
      this.onerror?.(error);
    };
    this.inner.onclose = () => {
      this.table.close();
      onclose?.();
      this.onclose?.();
    };
    await this.inner.start();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isResponseMessage(message) && message.id !== undefined) {
      if (isInternal(message.id)) {
        const settle = this.pending.get(message.id);
        this.pending.delete(message.id);
        settle?.('error' in message ? { error: message.error } : { result: message.result });
        return;
      }
      if (this.initializeIds.delete(message.id) && 'result' in message) {
        return this.inner.send(withTasksCapability(message), options);
      }
    }
    // A task's progress and log messages have no request stream left to go to (its request was
    // answered with the task); the spec leaves them out for tasks.
    if (isInternal(options?.relatedRequestId)) return;
    return this.inner.send(message, options);
  }

  async close(): Promise<void> {
    this.table.close();
    await this.inner.close();
  }

  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (!isRequestMessage(message)) {
      this.onmessage?.(message, extra);
      return;
    }
    if (message.method === 'initialize') {
      this.initialized = true;
      this.initializeIds.add(message.id);
    }
    const reply = this.initialized ? this.answer(message, extra) : undefined;
    if (reply === undefined) {
      this.onmessage?.(message, extra);
      return;
    }
    reply.then(
      (r) => this.inner.send({ jsonrpc: '2.0', id: message.id, ...r } as JSONRPCMessage),
      (err: unknown) => this.onerror?.(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** The answer to a task request, or undefined for a request the McpServer answers. */
  private answer(request: JSONRPCRequest, extra?: MessageExtraInfo): Promise<Reply> | undefined {
    const params = request.params ?? {};
    switch (request.method) {
      case 'tools/call': {
        if (params.task === undefined) return undefined;
        return Promise.resolve(this.createTask(request, extra));
      }
      case 'tasks/list':
        return Promise.resolve({ result: { tasks: this.table.list().map(wireTask) } });
      case 'tasks/get':
      case 'tasks/result':
      case 'tasks/cancel': {
        const parsed = TaskIdParams.safeParse(params);
        if (!parsed.success) return Promise.resolve(invalidParams(`${request.method} needs params.taskId`));
        return this.onTask(request.method, parsed.data.taskId);
      }
      default:
        return undefined;
    }
  }

  private createTask(request: JSONRPCRequest, extra?: MessageExtraInfo): Reply {
    const { task, ...params } = request.params ?? {};
    const name = typeof params.name === 'string' ? params.name : '';
    if (!this.options.tools.has(name)) {
      // The spec's answer for a tool without task support (execution.taskSupport absent/forbidden).
      return { error: { code: -32601, message: `tool ${JSON.stringify(name)} does not run as a task` } };
    }
    const creation = TaskParams.safeParse(task);
    if (!creation.success) return invalidParams('params.task.ttl must be a positive integer (milliseconds)');
    if (this.table.full) {
      return {
        error: {
          code: -32600,
          message: `too many tasks (at most ${this.options.maxTasks} per session): cancel one or wait until one ends`,
        },
      };
    }
    const id = `${INTERNAL}${this.nextInternal++}`;
    const record = this.table.create(
      (signal) =>
        new Promise<TaskOutcome>((resolve) => {
          this.pending.set(id, resolve);
          signal.addEventListener(
            'abort',
            () => {
              this.pending.delete(id);
              this.onmessage?.({
                jsonrpc: '2.0',
                method: 'notifications/cancelled',
                params: { requestId: id, reason: 'the task was cancelled' },
              });
              resolve({ error: { code: -32800, message: 'the task was cancelled' } });
            },
            { once: true },
          );
          this.onmessage?.({ jsonrpc: '2.0', id, method: 'tools/call', params }, extra);
        }),
      creation.data.ttl,
    );
    return { result: { task: wireTask(record) } };
  }

  private async onTask(method: string, taskId: string): Promise<Reply> {
    if (method === 'tasks/cancel') {
      const cancelled = this.table.cancel(taskId);
      if (cancelled === 'unknown') return invalidParams(`task not found: ${taskId}`);
      if (cancelled === 'terminal') {
        const status = this.table.get(taskId)?.status;
        return invalidParams(`cannot cancel task ${taskId}: it is already ${status}`);
      }
      return { result: wireTask(cancelled) };
    }
    const task = this.table.get(taskId);
    if (task === undefined) return invalidParams(`task not found: ${taskId}`);
    if (method === 'tasks/get') return { result: wireTask(task) };
    // tasks/result: blocks until the task ends, then gives what the call itself would have.
    if (!isTerminal(task.status)) await task.settled;
    const outcome = task.outcome;
    const related = { [RELATED_TASK_KEY]: { taskId } };
    if (outcome === undefined || task.status === 'cancelled') {
      return { error: { code: -32800, message: `task ${taskId} was cancelled`, data: related } };
    }
    if ('error' in outcome) return { error: outcome.error };
    const meta = (outcome.result._meta ?? {}) as Record<string, unknown>;
    return { result: { ...outcome.result, _meta: { ...meta, ...related } } };
  }
}

/** The initialize result, with the `tasks` capability this layer serves. */
function withTasksCapability(message: JSONRPCMessage): JSONRPCMessage {
  const response = message as { result: { capabilities?: Record<string, unknown> } };
  return {
    ...message,
    result: {
      ...response.result,
      capabilities: {
        ...response.result.capabilities,
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
    },
  } as JSONRPCMessage;
}
