/**
 * What a new user hit (issue 13, MQTT item 3), through the official client's callTool: input the
 * server refuses after the schema is a tool error with a stable code naming the field (in the kit's
 * error data, `_meta["dev.bastion/error"]`), and a connect that replaces a connection says so without
 * changing the original's text.
 */
import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterEach, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs, sessionPool, textOf } from './mqtt-helpers.js';

describeEachTier('MQTT tool errors and replaced connections', mqttBrokerProviders, (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.input.tool-error'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    const badBase64 = await s.call('mqttPublish', {
      topic: 'input/x',
      payload: 'not base64!',
      payloadEncoding: 'base64',
    });
    const v5Only = await s.call('mqttPublish', {
      topic: 'input/x',
      payload: 'x',
      properties: { contentType: 'text/plain' },
    });
    for (const [result, field, text] of [
      [badBase64, 'payload', 'payload is not valid base64'],
      [v5Only, 'properties', "properties need MQTT 5; connection 'default' uses protocolVersion 4"],
    ] as const) {
      expect(result.isError).toBe(true);
      expect(textOf(result)).not.toMatch(/MCP error|-32602/);
      expect(textOf(result)).toContain(text);
      expect(errorDataOf(result)).toEqual({ code: 'INVALID_INPUT', field });
    }
    // Nothing was sent, and the session goes on.
    const status = await s.ok<{ connections: Array<{ state: string }> }>('mqttStatus');
    expect(status.connections[0]?.state).toBe('connected');
  });

  it(verifies('mqtt.compat.connect-text'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const fresh = await s.call('mqttConnect', connectArgs(t, 'mqtt', { clientId: 'replaced-0' }));
    // A first connect: the original's text alone.
    expect(fresh.content).toEqual([
      {
        type: 'text',
        text: `Successfully connected to MQTT broker at ${t.host}:${t.port} with client ID replaced-0`,
      },
    ]);
  });

  it(verifies('mqtt.connect.replaced'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const fresh = await s.call('mqttConnect', connectArgs(t, 'mqtt', { clientId: 'replaced-1' }));
    // A first connect replaces nothing.
    expect(fresh.structuredContent).toMatchObject({ replaced: false });

    const again = await s.call('mqttConnect', connectArgs(t, 'password', { clientId: 'replaced-2' }));
    const port = t.listeners.password.port;
    expect(again.isError).toBeFalsy();
    expect(again.content[0]).toEqual({
      type: 'text',
      text: `Successfully connected to MQTT broker at ${t.host}:${port} with client ID replaced-2`,
    });
    expect(again.content[1]).toEqual({
      type: 'text',
      text:
        `It replaced the previous connection 'default' (${t.host}:${t.port}, client ID replaced-1, connected), ` +
        'which is now closed.',
    });
    expect(again.structuredContent).toMatchObject({
      replaced: true,
      clientId: 'replaced-2',
      previous: { host: t.host, port: t.port, clientId: 'replaced-1', state: 'connected' },
    });
    const status = await s.ok<{ connections: Array<{ clientId: string }> }>('mqttStatus');
    expect(status.connections.map((c) => c.clientId)).toEqual(['replaced-2']);
  });
});
