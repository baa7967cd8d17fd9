/**
 * Attempts to get a call past the policy: other spellings of a tool name, JSON-RPC batches, methods
 * the gateway does not know, duplicate keys. Raw HTTP where an SDK client would not send such things.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { AGENT_KINDS, type AgentKind } from './gateway-fixtures/agents.js';
import {
  call,
  type FixtureHttp,
  type GatewayHarness,
  policyOf,
  startFixtureHttp,
  startGateway,
} from './gateway-fixtures/harness.js';

let upstream: FixtureHttp;
let harness: GatewayHarness | undefined;

beforeAll(async () => {
  upstream = await startFixtureHttp();
});
afterAll(async () => {
  await upstream.stop();
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function gateway(policy: unknown, agentKind: AgentKind = 'v1') {
  harness = await startGateway(
    {
      servers: { fx: { transport: 'http', url: `${upstream.url}/mcp`, policy } },
      grants: { alice: { servers: ['fx'] } },
    },
    { agentKind },
  );
  return harness;
}

type Message = {
  id?: number | string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
};

/** A raw Streamable HTTP session: initialize, initialized, then JSON bodies of our choosing. */
async function rawSession(url: string, token: string) {
  const base = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
  };
  const init = await fetch(url, {
    method: 'POST',
    headers: base,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  await init.text();
  const headers = {
    ...base,
    'mcp-session-id': init.headers.get('mcp-session-id') ?? '',
    'mcp-protocol-version': '2025-03-26',
  };
  await (
    await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    })
  ).text();
  return async (body: string): Promise<{ status: number; messages: Message[] }> => {
    const res = await fetch(url, { method: 'POST', headers, body });
    const text = await res.text();
    const messages = (res.headers.get('content-type') ?? '').startsWith('text/event-stream')
      ? text
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => JSON.parse(l.slice(6)) as Message)
      : text === ''
        ? []
        : ([JSON.parse(text)].flat() as Message[]);
    return { status: res.status, messages };
  };
}

const toolCall = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe.each(AGENT_KINDS)('bypass attempts by name (%s client)', (kind) => {
  it(verifies('gateway.bypass.names'), async () => {
    const h = await gateway(
      {
        version: '1',
        default: 'deny',
        tools: { mqttDisconnect: {}, sessionInfo: {} },
      },
      kind,
    );
    const agent = await h.connect('fx', 'alice');
    for (const name of [
      'MQTTDISCONNECT',
      'mqttdisconnect',
      'mqttDisconnect ',
      'mqttDisconnеct',
      'mqttDisconnect\u200b',
    ]) {
      expect(policyOf(await call(agent, name))?.rule, JSON.stringify(name)).toBe('(default deny)');
    }
    // Under default allow, a look-alike of a hidden tool is a name the upstream does not have.
    await h.close();
    const open = await gateway({ version: '1', default: 'allow', hide: ['mqttConnect'] }, kind);
    const other = await open.connect('fx', 'alice');
    const args = { host: 'h', port: 1, clientId: 'c' };
    expect(policyOf(await call(other, 'mqttConnect', args))?.rule).toBe('(hidden)');
    expect(policyOf(await call(other, 'MqttConnect', args))?.rule).toBe('(unknown tool)');
    expect(policyOf(await call(other, 'mqttConnеct', args))?.rule).toBe('(unknown tool)');
    expect((await call(other, 'sessionInfo')).structuredContent).toMatchObject({ calls: 1 });
  });
});

describe('bypass attempts on the wire', () => {
  it(verifies('gateway.bypass.batch'), async () => {
    const h = await gateway({ version: '1', default: 'deny', tools: { sessionInfo: {} } });
    const http = await h.listen();
    const send = await rawSession(`${http.url}/servers/fx/mcp`, h.tokens.alice ?? '');
    const batch = await send(
      JSON.stringify([
        toolCall(1, 'mqttConnect', { host: 'h', port: 1, clientId: 'c' }),
        toolCall(2, 'executeCommand'),
      ]),
    );
    // The transport takes the batch and hands each message to the gateway on its own.
    expect(batch.messages.map((m) => [m.id, policyOf(m.result as never)?.rule])).toEqual([
      [1, '(default deny)'],
      [2, '(default deny)'],
    ]);
    // Duplicate keys: JSON.parse keeps the last, and the gateway forwards exactly what it decided on.
    const dup = await send(
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"sessionInfo","name":"mqttConnect"}}',
    );
    expect(policyOf(dup.messages[0]?.result as never)?.rule).toBe('(default deny)');
    const info = await send(JSON.stringify(toolCall(4, 'sessionInfo')));
    expect(info.messages[0]?.result?.structuredContent).toMatchObject({ calls: 1 });
  });

  it(verifies('gateway.bypass.methods'), async () => {
    const h = await gateway({ version: '1', default: 'allow' });
    const http = await h.listen();
    const send = await rawSession(`${http.url}/servers/fx/mcp`, h.tokens.alice ?? '');
    for (const method of [
      'tools/Call',
      'Tools/call',
      'tools/call ',
      'tools/execute',
      'tasks/list',
      'x-vendor/run',
    ]) {
      const { messages } = await send(
        JSON.stringify({ jsonrpc: '2.0', id: 9, method, params: { name: 'sessionInfo', arguments: {} } }),
      );
      expect(messages[0]?.error?.code, method).toBe(-32601);
    }
    // A tools/call that does not match the schema is refused as invalid, not forwarded.
    const bad = await send(
      JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: ['sessionInfo'] } }),
    );
    expect(bad.messages[0]?.error).toBeDefined();
    expect(bad.messages[0]?.result).toBeUndefined();
    const info = await send(JSON.stringify(toolCall(11, 'sessionInfo')));
    expect(info.messages[0]?.result?.structuredContent).toMatchObject({ calls: 1 });
    // The same in the 2026 era: per-request envelopes, headers that agree with the body.
    for (const method of ['tools/Call', 'tools/execute', 'tasks/list', 'x-vendor/run', 'ping']) {
      const res = await fetch(`${http.url}/servers/fx/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${h.tokens.alice}`,
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': method,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 12,
          method,
          params: {
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': {},
            },
          },
        }),
      });
      expect(res.status, method).toBe(404);
      expect(((await res.json()) as Message).error?.code, method).toBe(-32601);
    }
  });
});
