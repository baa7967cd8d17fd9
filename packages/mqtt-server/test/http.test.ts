import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedes, type TestBroker } from './support.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'bastion-mqtt.js');
const TOKEN = 'test-token-7f3a-0123456789';
let broker: TestBroker;
let child: ChildProcess;
let url: string;
let stderr = '';

beforeAll(async () => {
  broker = await startAedes();
  // The token comes from the environment, so that it need not appear in the process list.
  child = spawn(process.execPath, [BIN, '--transport', 'http', '--port', '0'], {
    env: { ...process.env, BASTION_MQTT_AUTH_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = createInterface({ input: child.stderr! });
  url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bastion-mqtt exited with ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      stderr += `${line}\n`;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'listening' && entry.url !== undefined) resolve(entry.url);
    });
  });
});

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  await broker.close();
});

function status(path: string, headers: Record<string, string>, method = 'POST'): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

const auth = { Authorization: `Bearer ${TOKEN}` };

describe('bastion-mqtt --transport http', () => {
  it('logs one JSON line with "listening" and the full URL, bound to 127.0.0.1', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stderr.split('\n').filter((l) => l.includes('"listening"'))).toHaveLength(1);
    expect(stderr).not.toContain(TOKEN);
  });

  it('refuses requests without the bearer token with 401, on both transports', async () => {
    expect(await status('/mcp', {})).toBe(401);
    expect(await status('/mcp', { Authorization: 'Bearer wrong' })).toBe(401);
    expect(await status('/mqttx/sse', {}, 'GET')).toBe(401);
  });

  it('refuses a foreign Host or Origin with 403 (DNS rebinding)', async () => {
    const port = new URL(url).port;
    expect(await status('/mcp', { ...auth, Host: `evil.example:${port}` })).toBe(403);
    expect(await status('/mcp', { ...auth, Origin: 'http://evil.example' })).toBe(403);
  });

  it('serves Streamable HTTP at /mcp with the token', async () => {
    const client = new Client({ name: 'http-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: auth } }),
    );
    try {
      expect(client.getServerVersion()?.name).toBe('mqtt-server');
      const result = await client.callTool({
        name: 'mqttConnect',
        arguments: { host: '127.0.0.1', port: broker.port, clientId: 'http-1' },
      });
      expect(result.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it("serves the original's legacy SSE endpoints /mqttx/sse and /mqttx/message", async () => {
    const client = new Client({ name: 'sse-test', version: '1.0.0' });
    const transport = new SSEClientTransport(new URL(`${url}/mqttx/sse`), {
      requestInit: { headers: auth },
      eventSourceInit: {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...auth } }),
      },
    });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('mqttConnect');
      const result = await client.callTool({
        name: 'mqttConnect',
        arguments: { host: '127.0.0.1', port: broker.port, clientId: 'sse-1' },
      });
      expect(result.content).toEqual([
        {
          type: 'text',
          text: `Successfully connected to MQTT broker at 127.0.0.1:${broker.port} with client ID sse-1`,
        },
      ]);
    } finally {
      await client.close();
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
