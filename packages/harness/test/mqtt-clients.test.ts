/**
 * Every bastion-mqtt tool, success and error paths, through the official clients' own callTool: the
 * v1 client (2025-11-25) and the v2 client in both eras, over real HTTP, against each tier's broker.
 * A result that fails the client's validation would throw here instead of being returned.
 */

import type { McpHttpHost } from '@bastion/mcp-http';
import { errorDataOf } from '@bastion/mcp-http/kit';
import { startMqttHttpServer, topicUri } from '@bastion/mqtt-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import {
  CLIENT_KINDS,
  type ClientKind,
  connectOfficialClient,
  type OfficialClient,
  resultText,
} from '../src/suites/official-clients.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { freePort } from '../src/targets/process.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { clientId, connectArgs, eventually, silentLogger } from './mqtt-helpers.js';

const TOKEN_A = 'harness-token-a-0123456789';
const TOKEN_B = 'harness-token-b-0123456789';

describeEachTier('bastion-mqtt through every official client', mqttBrokerProviders, (ctx) => {
  let host: McpHttpHost;
  const open: OfficialClient[] = [];
  beforeAll(async () => {
    host = await startMqttHttpServer(
      { transport: 'http', port: 0, authToken: [TOKEN_A, TOKEN_B], logLevel: 'silent' },
      { logger: silentLogger },
    );
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
  });
  afterAll(() => host.close());

  async function client(kind: ClientKind, token = TOKEN_A) {
    const c = await connectOfficialClient(kind, { url: `${host.url}/mcp`, token });
    open.push(c);
    return c;
  }

  for (const kind of CLIENT_KINDS) {
    describe(kind, () => {
      it(verifies('mqtt.clients.success-paths'), async () => {
        const c = await client(kind);
        const args = connectArgs(ctx.target(), 'mqtt', { connection: `ok-${kind}` });
        const connect = await c.callTool('mqttConnect', args);
        expect(resultText(connect)).toBe(
          `Successfully connected to MQTT broker at ${args.host}:${args.port} with client ID ${args.clientId}`,
        );
        const on = { connection: `ok-${kind}` };
        const topic = `clients/${kind}/${clientId('t')}`;
        expect(resultText(await c.callTool('mqttSubscribe', { ...on, topic, qos: 1 }))).toBe(
          `Successfully subscribed to MQTT topic '${topic}' with QoS 1`,
        );
        expect(resultText(await c.callTool('mqttPublish', { ...on, topic, payload: 'hello', qos: 1 }))).toBe(
          `Successfully published message to MQTT topic '${topic}' with QoS 1, retain: false`,
        );
        const read = await c.callTool('mqttReadMessages', { ...on, topic, waitMs: 10_000 });
        expect(read.structuredContent).toMatchObject({ messages: [{ topic, payload: 'hello' }] });
        const status = await c.callTool('mqttStatus', on);
        expect(status.structuredContent).toMatchObject({
          connections: [{ name: `ok-${kind}`, state: 'connected' }],
        });
        expect((await c.callTool('mqttUnsubscribe', { ...on, topic })).isError).toBeFalsy();
        expect(resultText(await c.callTool('mqttDisconnect', on))).toBe(
          'Successfully disconnected from MQTT broker',
        );
        // Twice is fine: disconnecting is idempotent.
        expect((await c.callTool('mqttDisconnect', on)).isError).toBeFalsy();
      });

      it(verifies('mqtt.clients.error-paths'), async () => {
        const c = await client(kind);
        const t = ctx.target();
        const nothing = await freePort();
        const refused = await c.callTool('mqttConnect', {
          host: '127.0.0.1',
          port: nothing,
          clientId: 'refused',
        });
        expect(errorDataOf(refused)?.code).toBe('CONNECT_REFUSED');
        const badInput = await c.callTool('mqttConnect', { ...connectArgs(t), ca: 'x', protocol: 'mqtt' });
        expect(errorDataOf(badInput)?.code).toBe('INVALID_INPUT');
        const schema = await c.callTool('mqttSubscribe', { topic: 'a', qos: 3 });
        expect(schema.isError).toBe(true);
        for (const [tool, extra] of [
          ['mqttSubscribe', { topic: 'a' }],
          ['mqttPublish', { topic: 'a', payload: 'x' }],
          ['mqttUnsubscribe', { topic: 'a' }],
          ['mqttReadMessages', {}],
          ['mqttStatus', {}],
        ] as const) {
          const unknown = await c.callTool(tool, { ...extra, connection: 'nope' });
          expect(errorDataOf(unknown)?.code, tool).toBe('UNKNOWN_CONNECTION');
        }
        await c.callTool('mqttConnect', connectArgs(t, 'mqtt', { connection: 'err' }));
        const base64 = await c.callTool('mqttPublish', {
          connection: 'err',
          topic: 'a',
          payload: '***',
          payloadEncoding: 'base64',
        });
        expect(errorDataOf(base64)?.code).toBe('INVALID_INPUT');
        const wait = await c.callTool('mqttReadMessages', { connection: 'err', waitMs: 10_000_000 });
        expect(errorDataOf(wait)?.code).toBe('INVALID_INPUT');
      });
    });
  }

  it(verifies('mqtt.eras.listen-updates'), async () => {
    const c = await client('v2-2026');
    await c.callTool('mqttConnect', connectArgs(ctx.target(), 'mqtt', { connection: 'listen' }));
    const topic = `listen/${clientId('t')}`;
    await c.callTool('mqttSubscribe', { connection: 'listen', topic, qos: 1 });
    const uri = topicUri('listen', topic);
    await c.watchResource(uri);
    await c.callTool('mqttPublish', { connection: 'listen', topic, payload: 'over listen', qos: 1 });
    await eventually(
      () => (c.updated.includes(uri) ? true : undefined),
      'resources/updated on the listen stream',
    );
    const contents = await c.readResource(uri);
    expect(contents[0]).toMatchObject({ uri, text: 'over listen' });
  });

  it(verifies('mqtt.resources.subscribe-2025'), async () => {
    const c = await client('v1');
    await c.callTool('mqttConnect', connectArgs(ctx.target()));
    const topic = `subscribe/${clientId('t')}`;
    await c.callTool('mqttSubscribe', { topic, qos: 1 });
    const uri = topicUri('default', topic);
    await c.watchResource(uri);
    await c.callTool('mqttPublish', { topic, payload: 'retained?', qos: 1 });
    await eventually(() => (c.updated.includes(uri) ? true : undefined), 'resources/updated');
    expect((await c.readResource(uri))[0]).toMatchObject({ text: 'retained?' });
  });

  it(verifies('mqtt.eras.identity-isolation'), async () => {
    const a = await client('v2-2026', TOKEN_A);
    const a2 = await client('v2-2026', TOKEN_A);
    const b = await client('v2-2026', TOKEN_B);
    await a.callTool('mqttConnect', connectArgs(ctx.target(), 'mqtt', { connection: 'mine' }));
    const topic = `isolation/${clientId('t')}`;
    await a.callTool('mqttSubscribe', { connection: 'mine', topic, qos: 1 });
    await b.watchResource(topicUri('mine', topic));
    // The same identity reaches its connection from another client; another identity cannot.
    expect((await a2.callTool('mqttStatus', { connection: 'mine' })).isError).toBeFalsy();
    for (const tool of ['mqttStatus', 'mqttReadMessages', 'mqttPublish', 'mqttDisconnect'] as const) {
      const result = await b.callTool(tool, { connection: 'mine', topic, payload: 'x' });
      if (tool === 'mqttDisconnect') expect(result.structuredContent).toMatchObject({ wasConnected: false });
      else expect(errorDataOf(result)?.code, tool).toBe('UNKNOWN_CONNECTION');
    }
    const uri = topicUri('mine', topic);
    await a.watchResource(uri);
    await a.callTool('mqttPublish', { connection: 'mine', topic, payload: 'private', qos: 1 });
    // Once the owner has heard of the message, the other identity would have too, had it leaked.
    await eventually(() => (a.updated.includes(uri) ? true : undefined), "the owner's update");
    await expect(b.readResource(topicUri('mine', topic))).rejects.toThrow();
    expect(b.updated).toEqual([]);
    expect((await a2.callTool('mqttStatus', { connection: 'mine' })).structuredContent).toMatchObject({
      connections: [{ name: 'mine', state: 'connected' }],
    });
  });
});
