/** The server kit: error results every official client accepts, runTool, backoff, config messages. */
import { Client as V2Client, InMemoryTransport as V2Memory } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport as V1Memory } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Backoff,
  describeConfigIssues,
  errorDataOf,
  flagOf,
  runTool,
  success,
  ToolError,
} from '../src/kit/index.js';

const logger = pino({ level: 'silent' });

function weatherServer() {
  const server = new McpServer({ name: 'weather', version: '1.0.0' });
  server.registerTool(
    'weather',
    {
      inputSchema: z.object({ city: z.string() }),
      outputSchema: z.object({ city: z.string(), celsius: z.number() }),
    },
    ({ city }) =>
      runTool(logger, 'weather', async () => {
        if (city === 'Atlantis')
          throw new ToolError('CITY_UNKNOWN', 'No weather for Atlantis', { details: { city } });
        if (city === 'Bug') throw new TypeError('undefined is not a function');
        return success(`${city}: 21 C`, { city, celsius: 21 });
      }),
  );
  return server;
}

async function v1Client() {
  const [a, b] = V1Memory.createLinkedPair();
  await weatherServer().connect(b as never);
  const client = new V1Client({ name: 'v1', version: '1' });
  await client.connect(a);
  await client.listTools();
  return client;
}

async function v2Client() {
  const [a, b] = V2Memory.createLinkedPair();
  await weatherServer().connect(b as never);
  const client = new V2Client({ name: 'v2', version: '1' });
  await client.connect(a);
  await client.listTools();
  return client;
}

describe('tool errors', () => {
  for (const [name, make] of [
    ['v1', v1Client],
    ['v2', v2Client],
  ] as const) {
    it(`reach the official ${name} client's callTool as results, for a tool with an outputSchema`, async () => {
      const client = await make();
      const ok = await client.callTool({ name: 'weather', arguments: { city: 'Oslo' } });
      expect(ok.structuredContent).toEqual({ city: 'Oslo', celsius: 21 });
      const failed = await client.callTool({ name: 'weather', arguments: { city: 'Atlantis' } });
      expect(failed.isError).toBe(true);
      expect(errorDataOf(failed as never)).toEqual({ code: 'CITY_UNKNOWN', city: 'Atlantis' });
      const bug = await client.callTool({ name: 'weather', arguments: { city: 'Bug' } });
      expect(errorDataOf(bug as never)?.code).toBe('INTERNAL_ERROR');
      expect(JSON.stringify(bug)).not.toContain('undefined is not a function');
      await client.close();
    });
  }
});

describe('backoff', () => {
  it('grows exponentially under full jitter up to the maximum, and starts again after reset', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect([top.next(), top.next(), top.next(), top.next(), top.next()]).toEqual([100, 200, 400, 800, 1000]);
    top.reset();
    expect(top.next()).toBe(100);
    const bottom = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(bottom.next()).toBe(0);
  });
});

describe('config problems', () => {
  it('name the flag a person would fix, not the internal key', () => {
    const schema = z.object({ logLevel: z.enum(['info', 'debug']), maxBufferedMessages: z.number().int() });
    const result = schema.safeParse({ logLevel: 'loud', maxBufferedMessages: 1.5 });
    expect(result.success).toBe(false);
    const text = describeConfigIssues(result.error?.issues ?? [], { maxBufferedMessages: '--buffer-size' });
    expect(text).toContain('--log-level:');
    expect(text).toContain('--buffer-size:');
    expect(text).not.toContain('logLevel');
    expect(flagOf('defaultTimeoutMs')).toBe('--default-timeout-ms');
  });
});
