import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedes, type TestBroker } from './support.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'bastion-mqtt.js');
let broker: TestBroker;

beforeAll(async () => {
  broker = await startAedes();
});
afterAll(async () => {
  await broker.close();
});

describe('bastion-mqtt --transport stdio', () => {
  it('serves the tools to an SDK client over stdio, with nothing but protocol on stdout', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--transport', 'stdio', '--log-level', 'debug'],
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    const errors: Error[] = [];
    client.onerror = (err) => errors.push(err);
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('mqtt-server');
      const connect = await client.callTool({
        name: 'mqttConnect',
        arguments: {
          host: '127.0.0.1',
          port: broker.port,
          clientId: 'stdio-1',
          username: 'u',
          password: 'stdio-secret',
        },
      });
      expect(connect.content).toEqual([
        {
          type: 'text',
          text: `Successfully connected to MQTT broker at 127.0.0.1:${broker.port} with client ID stdio-1`,
        },
      ]);
      const publish = await client.callTool({
        name: 'mqttPublish',
        arguments: { topic: 'stdio/t', payload: 'x' },
      });
      expect(publish.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    // Anything but JSON-RPC on stdout would have surfaced as a parse error on the client.
    expect(errors).toEqual([]);
    // Logs went to stderr as JSON lines, and the password to none of them.
    expect(stderr).toContain('"msg":"broker connected"');
    expect(stderr).not.toContain('stdio-secret');
  });

  it('exits by itself, with status 0, when the client closes its stdin', async () => {
    const child = spawn(process.execPath, [BIN, '--transport', 'stdio', '--log-level', 'silent'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout });
    const firstLine = once(lines, 'line');
    child.stdin.write(
      `${JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      })}\n`,
    );
    const [line] = (await firstLine) as [string];
    expect(JSON.parse(line)).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      result: { serverInfo: { name: 'mqtt-server' } },
    });
    const exited = once(child, 'exit');
    child.stdin.end();
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
