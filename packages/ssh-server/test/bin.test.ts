/**
 * The `bastion-ssh` command itself: over stdio (stdout carries only protocol messages, logs go to
 * stderr) and over HTTP (Streamable HTTP at /mcp and legacy SSE at /sse on one port, bearer token
 * from the environment), and a bad command line reported in full.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectArgs, startTestHost, type TestHost } from './support.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'bastion-ssh.js');
let host: TestHost;

beforeAll(async () => {
  host = await startTestHost();
});
afterAll(async () => {
  await host.close();
});

async function connectAndRun(client: Client): Promise<string> {
  const connected = (await client.callTool({
    name: 'connect',
    arguments: connectArgs(host),
  })) as CallToolResult;
  expect(connected.isError, JSON.stringify(connected)).toBeFalsy();
  const id = (connected.structuredContent as { connectionId: string }).connectionId;
  const run = (await client.callTool({
    name: 'exec',
    arguments: { connectionId: id, command: 'echo via-bin' },
  })) as CallToolResult;
  return (run.structuredContent as { stdout: string }).stdout;
}

function startHttp(env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, [BIN, '--transport', 'http', '--port', '0', ...args], {
    env: { ...process.env, ...env },
  });
  let stderr = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const line of stderr.split('\n')) {
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'listening' && entry.url) resolve(entry.url);
        } catch {
          // partial line
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('bastion-ssh command', () => {
  it('serves the tools over stdio with logs on stderr only, and no secret in them', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--log-level', 'debug'],
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('openShell');
      expect(await connectAndRun(client)).toBe('via-bin\n');
    } finally {
      await client.close();
    }
    expect(stderr).toContain('"msg":"ssh connected"');
    expect(stderr).not.toContain(host.password);
  });

  it('serves Streamable HTTP and legacy SSE on one port behind the bearer token from the environment', async () => {
    const token = 'a-test-token-of-enough-length';
    const server = startHttp({ BASTION_SSH_AUTH_TOKEN: token });
    try {
      const url = await server.url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const anonymous = await fetch(`${url}/mcp`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(anonymous.status).toBe(401);

      const auth = { headers: { authorization: `Bearer ${token}` } };
      const streamable = new Client({ name: 'http-test', version: '1.0.0' });
      await streamable.connect(
        new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: auth }),
      );
      expect(await connectAndRun(streamable)).toBe('via-bin\n');
      await streamable.close();

      const sse = new Client({ name: 'sse-test', version: '1.0.0' });
      await sse.connect(
        new SSEClientTransport(new URL(`${url}/sse`), {
          requestInit: auth,
          eventSourceInit: {
            fetch: (u, init) => fetch(u, { ...init, headers: { ...init?.headers, ...auth.headers } }),
          },
        }),
      );
      expect(await connectAndRun(sse)).toBe('via-bin\n');
      await sse.close();
    } finally {
      server.child.kill('SIGTERM');
      expect(await exited(server.child)).toBe(0);
    }
    expect(server.stderr()).not.toContain(token);
    expect(server.stderr()).not.toContain(host.password);
  });

  it('reports every problem of a bad command line and exits 2 without starting', async () => {
    const child = spawn(
      process.execPath,
      [BIN, '--transport', 'http', '--host', '0.0.0.0', '--port', 'x', '--max-execs', '0'],
      {
        env: { ...process.env, BASTION_SSH_AUTH_TOKEN: '' },
      },
    );
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    expect(await exited(child)).toBe(2);
    expect(stdout).toBe('');
    // Every problem names the flag to fix, never an internal option name.
    expect(stderr).toMatch(/--port:/);
    expect(stderr).toMatch(/--max-execs:/);
    expect(stderr).toMatch(/--auth-token: is required/);
    expect(stderr).not.toMatch(/maxExecsPerConnection|authToken/);
  });

  it('refuses to start with a known_hosts file that does not exist', async () => {
    const child = spawn(process.execPath, [BIN, '--known-hosts', '/nonexistent/known_hosts']);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    expect(await exited(child)).toBe(2);
    expect(stderr).toContain('/nonexistent/known_hosts');
  });
});
