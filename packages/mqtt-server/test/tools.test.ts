import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, startAedes, type TestBroker, type TestSession, textOf } from './support.js';

let broker: TestBroker;
const sessions: TestSession[] = [];
const open = async () => {
  const s = await openSession();
  sessions.push(s);
  return s;
};

beforeAll(async () => {
  broker = await startAedes();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await broker.close();
});

describe('the tool list', () => {
  it('names the server mqtt-server and declares the logging capability', async () => {
    const s = await open();
    expect(s.client.getServerVersion()?.name).toBe('mqtt-server');
    expect(s.client.getServerCapabilities()?.logging).toEqual({});
  });

  it("keeps the original four tools' names, descriptions and required fields", async () => {
    const s = await open();
    const { tools } = await s.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    const original = {
      mqttConnect: [
        'Connects to an MQTT broker with the specified parameters.',
        ['clientId', 'host', 'port'],
      ],
      mqttSubscribe: ['Subscribes to the specified MQTT topic.', ['topic']],
      mqttPublish: ['Publishes a message to the specified MQTT topic.', ['payload', 'topic']],
      mqttDisconnect: ['Disconnects from the currently connected MQTT broker.', []],
    } as const;
    for (const [name, [description, required]] of Object.entries(original)) {
      const tool = byName.get(name);
      expect(tool?.description).toBe(description);
      expect([...(tool?.inputSchema.required ?? [])].sort()).toEqual(required);
    }
    const connect = byName.get('mqttConnect')?.inputSchema.properties as Record<string, { type?: string }>;
    expect(connect.host?.type).toBe('string');
    expect(connect.port?.type).toBe('number');
    expect(connect.clientId?.type).toBe('string');
    expect(connect.username?.type).toBe('string');
    expect(connect.password?.type).toBe('string');
    const publish = byName.get('mqttPublish')?.inputSchema.properties as Record<string, { type?: string }>;
    expect(publish.qos?.type).toBe('number');
    expect(publish.retain?.type).toBe('boolean');
  });

  it('lists the three new tools, and every tool carries all four annotations', async () => {
    const s = await open();
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'mqttConnect',
      'mqttDisconnect',
      'mqttPublish',
      'mqttReadMessages',
      'mqttStatus',
      'mqttSubscribe',
      'mqttUnsubscribe',
    ]);
    for (const tool of tools) {
      expect(Object.keys(tool.annotations ?? {})).toEqual(
        expect.arrayContaining(['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']),
      );
    }
  });
});

describe('the original success texts', () => {
  it('answers connect, subscribe, publish and disconnect with the texts of the MQTTX server', async () => {
    const s = await open();
    const connect = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'texts-1',
    });
    expect(textOf(connect)).toBe(
      `Successfully connected to MQTT broker at 127.0.0.1:${broker.port} with client ID texts-1`,
    );
    expect(connect.isError).toBeFalsy();
    expect(connect.structuredContent).toMatchObject({
      connection: 'default',
      protocol: 'mqtt',
      protocolVersion: 4,
    });

    const subscribe = await s.call('mqttSubscribe', { topic: 'texts/#' });
    expect(textOf(subscribe)).toBe("Successfully subscribed to MQTT topic 'texts/#' with QoS 0");
    expect(subscribe.structuredContent).toMatchObject({ topic: 'texts/#', qos: 0, grantedQos: 0 });

    const publish = await s.call('mqttPublish', {
      topic: 'texts/a',
      payload: 'hello',
      qos: 1,
      retain: false,
    });
    expect(textOf(publish)).toBe(
      "Successfully published message to MQTT topic 'texts/a' with QoS 1, retain: false",
    );
    expect(publish.structuredContent).toMatchObject({ topic: 'texts/a', qos: 1, retain: false, bytes: 5 });

    const disconnect = await s.call('mqttDisconnect');
    expect(textOf(disconnect)).toBe('Successfully disconnected from MQTT broker');
    expect(disconnect.structuredContent).toEqual({ connection: 'default', wasConnected: true });
  });

  it('succeeds on mqttDisconnect with nothing connected, so a retried disconnect cannot fail', async () => {
    const s = await open();
    const result = await s.call('mqttDisconnect');
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('Successfully disconnected from MQTT broker');
    expect(result.structuredContent).toEqual({ connection: 'default', wasConnected: false });
  });

  it('replaces a connection on a second mqttConnect of the same name, as the original did', async () => {
    const s = await open();
    await s.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'replace-1' });
    const again = await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'replace-2',
    });
    expect(again.structuredContent).toMatchObject({
      replaced: true,
      clientId: 'replace-2',
      previous: { host: '127.0.0.1', port: broker.port, clientId: 'replace-1', state: 'connected' },
    });
    // The original's text first and unchanged (clients match it), then what was replaced.
    expect(again.content).toEqual([
      {
        type: 'text',
        text: `Successfully connected to MQTT broker at 127.0.0.1:${broker.port} with client ID replace-2`,
      },
      {
        type: 'text',
        text:
          `It replaced the previous connection 'default' (127.0.0.1:${broker.port}, client ID replace-1, ` +
          'connected), which is now closed.',
      },
    ]);
    const status = await s.call('mqttStatus');
    const connections = (status.structuredContent as { connections: Array<{ clientId: string }> })
      .connections;
    expect(connections.map((c) => c.clientId)).toEqual(['replace-2']);
  });
});

describe('subscribe, unsubscribe and status', () => {
  it('unsubscribes, so later messages on the topic are no longer received', async () => {
    const s = await open();
    await s.call('mqttConnect', { host: '127.0.0.1', port: broker.port, clientId: 'unsub-1' });
    await s.call('mqttSubscribe', { topic: 'unsub/x', qos: 1 });
    const unsubscribe = await s.call('mqttUnsubscribe', { topic: 'unsub/x' });
    expect(textOf(unsubscribe)).toBe("Successfully unsubscribed from MQTT topic 'unsub/x'");
    expect(unsubscribe.structuredContent).toMatchObject({ wasSubscribed: true });
    await s.call('mqttPublish', { topic: 'unsub/x', payload: 'after', qos: 1 });
    // A marker on a still-subscribed topic proves the broker delivered everything published before it.
    await s.call('mqttSubscribe', { topic: 'unsub/marker', qos: 1 });
    await s.call('mqttPublish', { topic: 'unsub/marker', payload: 'm', qos: 1 });
    const read = await s.call('mqttReadMessages', { waitMs: 5000, topic: 'unsub/marker' });
    expect((read.structuredContent as { messages: unknown[] }).messages).toHaveLength(1);
    const rest = await s.call('mqttReadMessages');
    expect((rest.structuredContent as { messages: unknown[] }).messages).toEqual([]);
  });

  it('reports connections, their state, subscriptions and buffer use, and never the password', async () => {
    const s = await open();
    await s.call('mqttConnect', {
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'status-1',
      username: 'someone',
      password: 's3cret-pw',
    });
    await s.call('mqttSubscribe', { topic: 'status/+', qos: 2 });
    const status = await s.call('mqttStatus');
    expect(status.structuredContent).toMatchObject({
      connections: [
        {
          name: 'default',
          state: 'connected',
          broker: { protocol: 'mqtt', host: '127.0.0.1', port: broker.port },
          clientId: 'status-1',
          username: 'someone',
          subscriptions: [{ topic: 'status/+', qos: 2, grantedQos: 2 }],
          buffer: {
            size: 0,
            capacity: 10_000,
            dropped: 0,
            bytes: 0,
            maxBytes: 64 * 1024 * 1024,
            whenFull: 'pause',
            pauseMs: 5000,
            paused: false,
          },
          notifications: { perSecond: 100, sent: 0, skipped: 0 },
          backoffAttempt: 0,
          reconnectStableMs: 10_000,
        },
      ],
    });
    expect(JSON.stringify(status)).not.toContain('s3cret-pw');
  });
});
