/**
 * The benchmark's load generator speaks MCP on the wire itself: these check that it does so
 * correctly in both eras, against the benchmark's echo upstream directly and through the plain proxy
 * hop, that it tells a wrong answer from a right one, and that its process and the open-file limit
 * of the processes under test behave as the run relies on.
 */
import { spawnSync } from 'node:child_process';
import { startMcpHttpHost } from '@bastion/mcp-http';
import { McpServer } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { Client } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { currentFdLimits, planFdLimit } from '../src/bench/fd-limit.js';
import { LatencyRecorder } from '../src/bench/histogram.js';
import { LoadGenerator } from '../src/bench/load-generator.js';
import { BenchProcesses } from '../src/bench/processes.js';
import { type RunningServer, startEchoUpstream } from '../src/bench/servers/echo-upstream.js';
import { startProxyHop } from '../src/bench/servers/proxy-hop.js';
import {
  checkEcho,
  isEraRefusal,
  openLegacySession,
  rpcAnswer,
  statelessAgent,
  WireError,
  type WireResponse,
} from '../src/bench/wire.js';
import { findBinary } from '../src/targets/process.js';
import { isAlive } from './bench-fixtures.js';

const logger = pino({ level: 'silent' });
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function echoUpstream(): Promise<RunningServer> {
  const server = await startEchoUpstream({ port: 0, logger });
  closers.push(() => server.close());
  return server;
}

function connectionTo(url: string): Client {
  const client = new Client(new URL(url).origin, { pipelining: 1 });
  closers.push(() => client.destroy());
  return client;
}

const sse = (...messages: unknown[]): WireResponse => ({
  status: 200,
  headers: { 'content-type': 'text/event-stream' },
  body: messages.map((m) => `event: message\ndata: ${JSON.stringify(m)}\n\n`).join(''),
});
const json = (message: unknown, status = 200): WireResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(message),
});
const echoed = (id: number, text: string) => ({
  jsonrpc: '2.0',
  id,
  result: { content: [{ type: 'text', text }] },
});

describe('the wire client', () => {
  it('opens a 2025-era session, calls echo through it, and ends it with DELETE', async () => {
    const upstream = await echoUpstream();
    const session = await openLegacySession(connectionTo(upstream.url), { url: upstream.url });
    for (let i = 1; i <= 5; i++) await session.call(i);
    await session.close();
    const ended = await session.call(6).catch((err: unknown) => err);
    expect(ended).toBeInstanceOf(WireError);
    expect((ended as WireError).status).toBe(404);
  });

  it('calls echo in the 2026 era with no session at all', async () => {
    const upstream = await echoUpstream();
    const agent = statelessAgent(connectionTo(upstream.url), {
      url: upstream.url,
      headers: { authorization: 'Bearer agent-a' },
    });
    for (let i = 1; i <= 5; i++) await agent.call(i);
  });

  it('reads the answer out of an SSE stream with a notification before it, or out of JSON', () => {
    const progress = { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } };
    expect(rpcAnswer(sse(progress, echoed(7, 'bench-7')), 7)).toEqual(echoed(7, 'bench-7'));
    expect(rpcAnswer(json(echoed(8, 'bench-8')), 8)).toEqual(echoed(8, 'bench-8'));
    expect(rpcAnswer(json([echoed(1, 'x'), echoed(9, 'bench-9')]), 9)).toEqual(echoed(9, 'bench-9'));
  });

  it('rejects a wrong echo, a tool error, a JSON-RPC error and an answer to another request', () => {
    expect(() => checkEcho(echoed(1, 'bench-2'), 'bench-1', 200)).toThrow(/unexpected echo/);
    const toolError = {
      jsonrpc: '2.0',
      id: 1,
      result: { isError: true, content: [{ type: 'text', text: 'denied' }] },
    };
    expect(() => checkEcho(toolError, 'bench-1', 200)).toThrow(/tool error: denied/);
    const rpcError = { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad' } };
    expect(() => checkEcho(rpcError, 'bench-1', 200)).toThrow(/JSON-RPC error -32602/);
    expect(() => rpcAnswer(json(echoed(2, 'bench-2')), 1)).toThrow(/without an answer to request 1/);
    expect(() => rpcAnswer({ status: 502, headers: {}, body: 'Bad Gateway' }, 1)).toThrow(/not JSON/);
  });

  it('tells a server that does not speak the 2026 era apart from one that answers wrongly', async () => {
    const host = await startMcpHttpHost({
      name: 'old',
      logger,
      endpoints: [
        {
          streamablePath: '/mcp',
          async openSession(transport) {
            const server = new McpServer({ name: 'old', version: '1' });
            server.registerTool('echo', { inputSchema: z.object({ text: z.string() }) }, async () => ({
              content: [{ type: 'text', text: 'always the same' }],
            }));
            await server.connect(transport);
            return { close: () => server.close() };
          },
        },
      ],
    });
    closers.push(() => host.close());
    const url = `${host.url}/mcp`;
    const refused = await statelessAgent(connectionTo(url), { url })
      .call(1)
      .catch((err: unknown) => err);
    expect(isEraRefusal(refused)).toBe(true);
    expect((refused as WireError).rpcCode).toBe(-32022);
    const session = await openLegacySession(connectionTo(url), { url });
    const wrong = await session.call(1).catch((err: unknown) => err);
    expect(wrong).toBeInstanceOf(WireError);
    expect(isEraRefusal(wrong)).toBe(false);
    expect(isEraRefusal(new Error('ECONNREFUSED'))).toBe(false);
  });
});

describe('the plain proxy hop (e)', () => {
  it('carries both eras, and the session header both ways, to the upstream and back', async () => {
    const upstream = await echoUpstream();
    const hop = await startProxyHop({ port: 0, upstreamUrl: upstream.url });
    closers.push(() => hop.close());
    const connection = connectionTo(hop.url);
    const session = await openLegacySession(connection, { url: hop.url });
    for (let i = 1; i <= 3; i++) await session.call(i);
    const agent = statelessAgent(connection, { url: hop.url, headers: { authorization: 'Bearer agent-b' } });
    for (let i = 4; i <= 6; i++) await agent.call(i);
    await session.close();
    expect(((await session.call(7).catch((err: unknown) => err)) as WireError).status).toBe(404);
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const hop = await startProxyHop({ port: 0, upstreamUrl: 'http://127.0.0.1:9/mcp' });
    closers.push(() => hop.close());
    const failed = await statelessAgent(connectionTo(hop.url), { url: hop.url })
      .call(1)
      .catch((err: unknown) => err);
    expect((failed as WireError).status).toBe(502);
  });
});

describe('the load generator process', () => {
  it('runs jobs in a process of its own, reports errors, and leaves nothing running when stopped', async () => {
    const upstream = await echoUpstream();
    const processes = new BenchProcesses();
    const load = await LoadGenerator.start(processes);
    try {
      expect(load.pid).not.toBe(process.pid);
      const target = { url: upstream.url };
      const opened = await load.run({
        kind: 'open',
        group: 'g',
        target,
        era: '2025-11-25',
        count: 3,
        parallelism: 3,
        connections: 0,
        maxMs: 30_000,
      });
      expect(opened).toMatchObject({ opened: 3, groupSize: 3, errors: 0 });
      const level = await load.run({
        kind: 'concurrent',
        group: 'g',
        sessions: 3,
        durationMs: 30_000,
        maxCalls: 30,
      });
      expect(level).toMatchObject({ calls: 30, errors: 0, recorded: 30 });
      const recorder = new LatencyRecorder();
      recorder.addEncoded(level.hdrBase64);
      expect(recorder.count).toBe(30);
      const agents = await load.run({
        kind: 'agents',
        targets: [1, 2, 3].map((i) => ({
          url: upstream.url,
          headers: { authorization: `Bearer agent-${i}` },
        })),
        parallelism: 2,
        connections: 2,
      });
      expect(agents).toMatchObject({ calls: 3, errors: 0 });
      await expect(
        load.run({ kind: 'sequential', group: 'none', warmup: 0, calls: 1, maxMs: 1000 }),
      ).rejects.toThrow("no session group 'none'");
      expect(await load.run({ kind: 'close', group: 'g' })).toEqual({ closed: 3 });
    } finally {
      await processes.stopAll();
    }
    expect(isAlive(load.pid)).toBe(false);
    await expect(load.run({ kind: 'close', group: 'g' })).rejects.toThrow(/exited/);
  });
});

describe('a cancelled load job', () => {
  it('ends in the generator too, so that the next job does not wait for its time cap', async () => {
    const upstream = await echoUpstream();
    const processes = new BenchProcesses();
    const load = await LoadGenerator.start(processes);
    try {
      await load.run({
        kind: 'open',
        group: 'g',
        target: { url: upstream.url },
        era: '2026-07-28',
        count: 1,
        parallelism: 1,
        connections: 0,
        maxMs: 30_000,
      });
      const controller = new AbortController();
      // Ten minutes of calls, given up on once it has started.
      const long = load.run(
        { kind: 'concurrent', group: 'g', sessions: 1, durationMs: 600_000, maxCalls: 100_000_000 },
        controller.signal,
      );
      setTimeout(() => controller.abort(new Error('given up')), 300);
      await expect(long).rejects.toThrow('given up');
      // Were the long job still running, this would wait ten minutes (and the test time out).
      const next = await load.run({ kind: 'sequential', group: 'g', warmup: 0, calls: 3, maxMs: 10_000 });
      expect(next).toMatchObject({ calls: 3, errors: 0, recorded: 3 });
    } finally {
      await processes.stopAll();
    }
  });
});

describe('the open-file limit of the processes under test', () => {
  it.skipIf(findBinary('prlimit') === undefined || currentFdLimits() === undefined)(
    'starts a process with the planned soft limit, raised as far as this machine allows',
    () => {
      const limits = currentFdLimits();
      if (limits === undefined) return;
      const plan = planFdLimit(limits.soft + 1000);
      const { command, args } = plan.wrap(process.execPath, [
        '-e',
        "process.stdout.write(/^Max open files\\s+(\\S+)/m.exec(require('node:fs').readFileSync('/proc/self/limits','utf8'))[1])",
      ]);
      const child = spawnSync(command, args, { encoding: 'utf8' });
      expect(child.status).toBe(0);
      expect(Number(child.stdout)).toBe(plan.applied);
      // Up to the hard limit at least; beyond it where the process may raise that too.
      expect(plan.applied).toBeGreaterThanOrEqual(Math.min(limits.soft + 1000, limits.hard));
      expect(plan.how).toContain(String(plan.applied));
    },
  );

  it('leaves the command alone when the inherited limit is enough', () => {
    const plan = planFdLimit(16);
    expect(plan.wrap('node', ['x'])).toEqual({ command: 'node', args: ['x'] });
  });
});
