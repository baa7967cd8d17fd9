/**
 * Issue 14 item 11: however an MCP session of bastion-ssh ends (a DELETE over Streamable HTTP, the
 * legacy SSE stream closing, EOF on stdio, the server shutting down), its running exec, background
 * jobs and shells end on the remote too. Each test leaves one of each running (`sleep` with a
 * command line no other process has), ends the session, and asks pgrep on the host.
 */
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { McpHttpHost } from '@bastion/mcp-http';
import { createSshServerShared, parseConfig, startSshHttpServer } from '@bastion/ssh-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { BASTION_BINS, type McpServerProcess, startSshServerProcess } from '../src/targets/mcp-process.js';
import { sshHostProvidersWith } from '../src/targets/ssh/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { callTool, connectArgs, connectOrFail, eventually, LogCapture } from './ssh-support.js';

const marker = () => `${randomInt(100, 999)}.${randomInt(100000, 999999)}`;

describeEachTier(
  'bastion-ssh: the end of an MCP session ends its remote work',
  sshHostProvidersWith('pty'),
  (ctx) => {
    const logs = new LogCapture();
    let host: McpHttpHost;
    const cleanups: Array<() => Promise<unknown>> = [];

    const count = async (patterns: string[]) => {
      const found = await Promise.all(patterns.map((p) => ctx.target().processes(p)));
      return found.map((pids) => pids.length);
    };

    /** Leaves an exec, a job and a shell command running on the host; returns their pgrep patterns. */
    async function leaveWorkRunning(client: Client): Promise<string[]> {
      const connectionId = await connectOrFail(client, connectArgs(ctx.target(), 'key'));
      const [a, b, c] = [marker(), marker(), marker()];
      // Never answered: the session ends under it.
      client
        .callTool({ name: 'exec', arguments: { connectionId, command: `sleep ${a}`, timeoutMs: 600_000 } })
        .catch(() => undefined);
      const job = await callTool(client, 'startJob', { connectionId, command: `sleep ${b}` });
      expect(job.isError).toBe(false);
      const shell = await callTool<{ shellId: string }>(client, 'openShell', { connectionId });
      await callTool(client, 'writeShell', {
        shellId: shell.structured.shellId,
        text: `sleep ${c}`,
        keys: ['enter'],
      });
      const patterns = [`sleep ${a}`, `sleep ${b}`, `sleep ${c}`];
      await eventually(async () => (await count(patterns)).every((n) => n > 0));
      return patterns;
    }

    const allGone = (patterns: string[]) =>
      eventually(async () => (await count(patterns)).every((n) => n === 0), 20_000);

    beforeAll(async () => {
      const config = parseConfig({ transport: 'http', port: 0, killGraceMs: 300 });
      host = await startSshHttpServer(config, {
        logger: logs.logger,
        shared: await createSshServerShared(config),
      });
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
    });
    afterAll(async () => {
      await host?.close();
    });

    it(verifies('ssh.session-end.delete'), async () => {
      const transport = new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`));
      const client = new Client({ name: 'session-end', version: '1.0.0' });
      await client.connect(transport);
      cleanups.push(() => client.close());
      const patterns = await leaveWorkRunning(client);
      await transport.terminateSession();
      await allGone(patterns);
      expect(host.sessionCount()).toBe(0);
    });

    it(verifies('ssh.session-end.sse'), async () => {
      const client = new Client({ name: 'session-end', version: '1.0.0' });
      await client.connect(new SSEClientTransport(new URL(`${host.url}/sse`)));
      const patterns = await leaveWorkRunning(client);
      // Closing the client closes its event stream; nothing else tells the server.
      await client.close();
      await allGone(patterns);
    });

    it(verifies('ssh.session-end.stdio'), async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BASTION_BINS.ssh, '--kill-grace-ms', '300'],
        env: { ...process.env } as Record<string, string>,
        stderr: 'ignore',
      });
      const client = new Client({ name: 'session-end', version: '1.0.0' });
      await client.connect(transport);
      cleanups.push(() => client.close());
      const patterns = await leaveWorkRunning(client);
      // EOF on the server's stdin and nothing else: the SDK transport's close() would also signal the
      // process after a while, and a signal is another way to end (the shutdown test below).
      const child = (transport as unknown as { _process?: ChildProcess })._process;
      child?.stdin?.end();
      await allGone(patterns);
      // The server noticed the EOF and exited by itself.
      await eventually(() => child?.exitCode === 0);
    });

    it(verifies('ssh.session-end.shutdown'), async () => {
      let server: McpServerProcess | undefined = await startSshServerProcess(['--kill-grace-ms', '300']);
      cleanups.push(async () => server?.stop());
      const client = new Client({ name: 'session-end', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
      cleanups.push(() => client.close());
      const patterns = await leaveWorkRunning(client);
      const exit = await server.kill('SIGTERM');
      server = undefined;
      expect(exit?.code).toBe(0);
      await allGone(patterns);
    });
  },
);
