/**
 * bastion-ssh's exec as an MCP task over HTTP against a real SSH host, in both eras: 2025-11-25's
 * experimental tasks through the official v1 client's own task API (`callToolStream`, `getTask`,
 * `listTasks`, `cancelTask`, `getTaskResult`), and the 2026-07-28 `io.modelcontextprotocol/tasks`
 * extension, which no official client speaks yet (v2 2.4.0 has no tasks), over raw HTTP, next to
 * the official v2 client, which must never be handed a task. Cancellation and the session's end
 * are checked with pgrep on the host.
 */
import { randomInt } from 'node:crypto';
import type { McpHttpHost } from '@bastion/mcp-http';
import { createSshServerShared, parseConfig, startSshHttpServer } from '@bastion/ssh-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { connectOfficialClient, type OfficialClient } from '../src/suites/official-clients.js';
import { BASTION_BINS } from '../src/targets/mcp-process.js';
import { sshHostProvidersWith } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { type ModernAnswer, modernRpc, TASKS_EXTENSION } from './modern-rpc.js';
import { connectArgs, eventually } from './ssh-support.js';

const TOKEN = 'harness-ssh-tasks-token-0123456789';
const marker = () => `${randomInt(100, 999)}.${randomInt(100000, 999999)}`;

type StreamMessage = { type: string; [k: string]: unknown };
const taskOf = (m: StreamMessage | undefined) => (m?.task ?? {}) as { taskId?: string; status?: string };

describeEachTier('bastion-ssh exec as an MCP task', sshHostProvidersWith('pty'), (ctx) => {
  let host: McpHttpHost;
  const cleanups: Array<() => Promise<unknown>> = [];
  const running = (pattern: string) =>
    eventually(async () => (await ctx.target().processes(pattern)).length > 0);
  const gone = (pattern: string) =>
    eventually(async () => (await ctx.target().processes(pattern)).length === 0, 20_000);

  beforeAll(async () => {
    const config = parseConfig({
      transport: 'http',
      port: 0,
      authToken: TOKEN,
      logLevel: 'silent',
      taskAfterMs: 500,
      taskPollIntervalMs: 100,
    });
    host = await startSshHttpServer(config, {
      logger: pino({ level: 'silent' }),
      shared: await createSshServerShared(config),
    });
  });
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((c) => c().catch(() => {})));
  });
  afterAll(() => host?.close());

  /** The official v1 client (2025-11-25), connected to an SSH host; the connection id. */
  async function v1Session(): Promise<{
    client: Client;
    transport: StreamableHTTPClientTransport;
    id: string;
  }> {
    const transport = new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
    });
    const client = new Client({ name: 'ssh-tasks-v1', version: '1.0.0' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    // With the tool list cached, the client knows exec may run as a task and checks its output schema.
    const tools = await client.listTools();
    expect(tools.tools.find((t) => t.name === 'exec')?.execution).toEqual({ taskSupport: 'optional' });
    const connected = await client.callTool({ name: 'connect', arguments: connectArgs(ctx.target(), 'key') });
    const id = (connected.structuredContent as { connectionId?: string } | undefined)?.connectionId;
    if (id === undefined) throw new Error(`connect failed: ${JSON.stringify(connected)}`);
    return { client, transport, id };
  }

  /** Drives one exec through callToolStream; the messages it yielded. */
  async function streamExec(client: Client, args: Record<string, unknown>) {
    const seen: StreamMessage[] = [];
    const stream = client.experimental.tasks.callToolStream(
      { name: 'exec', arguments: args },
      CallToolResultSchema,
      {
        task: { ttl: 60_000 },
      },
    );
    for await (const message of stream) seen.push(message as never);
    return seen;
  }

  it(verifies('ssh.tasks.legacy'), async () => {
    const { client, id } = await v1Session();
    expect(client.getServerCapabilities()?.tasks?.requests?.tools?.call).toBeDefined();

    const seen = await streamExec(client, { connectionId: id, command: 'sleep 0.4; echo task-$((6*7))' });
    expect(seen[0]?.type).toBe('taskCreated');
    const taskId = taskOf(seen[0]).taskId ?? 'missing';
    expect(seen.some((m) => m.type === 'taskStatus' && taskOf(m).status === 'completed')).toBe(true);
    const last = seen.at(-1);
    expect(last?.type, JSON.stringify(last)).toBe('result');
    expect((last?.result as { structuredContent?: unknown } | undefined)?.structuredContent).toMatchObject({
      connectionId: id,
      stdout: 'task-42\n',
      exitCode: 0,
      timedOut: false,
    });
    const listed = await client.experimental.tasks.listTasks();
    expect(listed.tasks.map((t) => t.taskId)).toContain(taskId);

    // A failing command: the task fails, and tasks/result still gives the exec result with its code.
    const failing = await streamExec(client, { connectionId: id, command: 'echo oops >&2; exit 3' });
    const failedId = taskOf(failing[0]).taskId ?? 'missing';
    expect(failing.at(-1)?.type).toBe('error');
    const failedTask = await client.experimental.tasks.getTask(failedId);
    expect(failedTask.status).toBe('failed');
    expect(failedTask.statusMessage).toContain('exited with code 3');
    const failedResult = await client.experimental.tasks.getTaskResult(failedId, CallToolResultSchema);
    expect(failedResult.isError).toBe(true);
    expect(failedResult.structuredContent).toMatchObject({
      exitCode: 3,
      stderr: 'oops\n',
      code: 'NONZERO_EXIT',
    });
    expect(failedResult._meta?.['io.modelcontextprotocol/related-task']).toEqual({ taskId: failedId });

    // A plain call of the same tool is still a plain call.
    const plain = await client.callTool({
      name: 'exec',
      arguments: { connectionId: id, command: 'echo plain' },
    });
    expect(plain.structuredContent).toMatchObject({ stdout: 'plain\n' });
  });

  it(verifies('ssh.tasks.legacy-cancel'), async () => {
    const { client, id } = await v1Session();
    const sleep = `sleep ${marker()}`;
    const created = await client.request(
      {
        method: 'tools/call',
        params: { name: 'exec', arguments: { connectionId: id, command: sleep }, task: {} },
      },
      // The v1 client's own schema for a task-creating answer.
      (await import('@modelcontextprotocol/sdk/types.js')).CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    expect(created.task.status).toBe('working');
    await running(sleep);
    const cancelled = await client.experimental.tasks.cancelTask(taskId);
    expect(cancelled.status).toBe('cancelled');
    await gone(sleep);
    expect((await client.experimental.tasks.getTask(taskId)).status).toBe('cancelled');
    const again = await client.experimental.tasks.cancelTask(taskId).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(McpError);
    expect((again as McpError).code).toBe(-32602);
    const unknown = await client.experimental.tasks.getTask('no-such-task').catch((err: unknown) => err);
    expect((unknown as McpError).code).toBe(-32602);
  });

  it(verifies('ssh.tasks.session-end'), async () => {
    const { client, transport, id } = await v1Session();
    const sleep = `sleep ${marker()}`;
    const stream = client.experimental.tasks.callToolStream(
      { name: 'exec', arguments: { connectionId: id, command: sleep, timeoutMs: 600_000 } },
      CallToolResultSchema,
      { task: {} },
    );
    const first = await stream.next();
    expect((first.value as { type: string }).type).toBe('taskCreated');
    await running(sleep);
    // DELETE of the MCP session.
    await transport.terminateSession();
    await gone(sleep);
    await stream.return(undefined);
  });

  it(verifies('ssh.tasks.stdio'), async () => {
    // The bin over stdio, as an MCP client config starts it, with the official v1 client.
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BASTION_BINS.ssh, '--log-level', 'silent'],
      env: { ...process.env } as Record<string, string>,
      stderr: 'ignore',
    });
    const client = new Client({ name: 'ssh-tasks-stdio', version: '1.0.0' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect(client.getServerCapabilities()?.tasks?.requests?.tools?.call).toBeDefined();
    await client.listTools();
    const connected = await client.callTool({ name: 'connect', arguments: connectArgs(ctx.target(), 'key') });
    const id = (connected.structuredContent as { connectionId: string }).connectionId;
    const seen = await streamExec(client, { connectionId: id, command: 'sleep 0.3; echo stdio-$((6*7))' });
    expect(seen[0]?.type).toBe('taskCreated');
    expect(seen.at(-1)).toMatchObject({
      type: 'result',
      result: { structuredContent: { stdout: 'stdio-42\n' } },
    });
  });

  /** One 2026-07-28 request to the server (raw: no official client speaks the tasks extension). */
  const rpc2026 = (
    method: string,
    params: Record<string, unknown>,
    opts: { tasks?: boolean; name?: string } = {},
  ): Promise<ModernAnswer> =>
    modernRpc({
      url: `${host.url}/mcp`,
      token: TOKEN,
      method,
      params,
      ...(opts.tasks === false ? { capabilities: {} } : {}),
      ...(opts.name === undefined ? {} : { name: opts.name }),
    });

  /** The official v2 client pinned to 2026-07-28 (it declares no tasks), connected to the host. */
  async function v2Modern(): Promise<{ client: OfficialClient; id: string }> {
    const client = await connectOfficialClient('v2-2026', { url: `${host.url}/mcp`, token: TOKEN });
    cleanups.push(() => client.close());
    const connected = await client.callTool('connect', connectArgs(ctx.target(), 'key'));
    return { client, id: connected.structuredContent?.connectionId as string };
  }

  it(verifies('ssh.tasks.modern'), async () => {
    const { client, id } = await v2Modern();
    const discovered = await rpc2026('server/discover', {});
    expect(discovered.result?.capabilities).toMatchObject({ extensions: { [TASKS_EXTENSION]: {} } });

    const long = await rpc2026('tools/call', {
      name: 'exec',
      arguments: { connectionId: id, command: 'sleep 1.5; echo modern-$((6*7))' },
    });
    expect(long.result).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = long.result?.taskId as string;
    let polled: ModernAnswer | undefined;
    await eventually(async () => {
      polled = await rpc2026('tasks/get', { taskId });
      return polled.result?.status === 'completed';
    });
    expect(polled?.result?.resultType).toBe('complete');
    expect(polled?.result?.result).toMatchObject({
      structuredContent: { stdout: 'modern-42\n', exitCode: 0 },
    });
    expect((await rpc2026('tasks/update', { taskId, inputResponses: {} })).result).toEqual(
      expect.objectContaining({ resultType: 'complete' }),
    );

    // Finished in time: the call's own answer.
    const short = await rpc2026('tools/call', {
      name: 'exec',
      arguments: { connectionId: id, command: 'echo quick' },
    });
    expect(short.result).toMatchObject({ resultType: 'complete', structuredContent: { stdout: 'quick\n' } });
    // No extension declared: never a task, however long the call.
    const without = await rpc2026(
      'tools/call',
      { name: 'exec', arguments: { connectionId: id, command: 'sleep 1; echo waited' } },
      { tasks: false },
    );
    expect(without.result).toMatchObject({
      resultType: 'complete',
      structuredContent: { stdout: 'waited\n' },
    });
    const official = await client.callTool('exec', { connectionId: id, command: 'sleep 1; echo official' });
    expect(official.structuredContent).toMatchObject({ stdout: 'official\n' });
  });

  it(verifies('ssh.tasks.modern-cancel'), async () => {
    const { id } = await v2Modern();
    const sleep = `sleep ${marker()}`;
    const created = await rpc2026('tools/call', {
      name: 'exec',
      arguments: { connectionId: id, command: sleep },
    });
    expect(created.result?.resultType).toBe('task');
    const taskId = created.result?.taskId as string;
    await running(sleep);
    const mismatch = await rpc2026('tasks/get', { taskId }, { name: 'another-task' });
    expect(mismatch.error?.code).toBe(-32020);
    expect((await rpc2026('tasks/cancel', { taskId })).result).toMatchObject({ resultType: 'complete' });
    await gone(sleep);
    expect((await rpc2026('tasks/get', { taskId })).result).toMatchObject({ status: 'cancelled' });
    expect((await rpc2026('tasks/get', { taskId: 'no-such-task' })).error?.code).toBe(-32602);
  });
});
