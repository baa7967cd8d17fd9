/** The tools against real brokers, in every tier: the original texts, and messaging end to end. */
import { afterEach, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { connectArgs, eventually, type ReadResult, sessionPool, textOf } from './mqtt-helpers.js';

describeEachTier('MQTT tools', mqttBrokerProviders, (ctx) => {
  const pool = sessionPool();
  afterEach(() => pool.closeAll());

  it(verifies('mqtt.compat.tool-schema'), async () => {
    const s = await pool.open();
    const { tools } = await s.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('mqttConnect')?.description).toBe(
      'Connects to an MQTT broker with the specified parameters.',
    );
    expect(byName.get('mqttSubscribe')?.description).toBe('Subscribes to the specified MQTT topic.');
    expect(byName.get('mqttPublish')?.description).toBe('Publishes a message to the specified MQTT topic.');
    expect(byName.get('mqttDisconnect')?.description).toBe(
      'Disconnects from the currently connected MQTT broker.',
    );
    expect(byName.get('mqttConnect')?.inputSchema.required?.sort()).toEqual(['clientId', 'host', 'port']);
    expect(byName.get('mqttSubscribe')?.inputSchema.required).toEqual(['topic']);
    expect(byName.get('mqttPublish')?.inputSchema.required?.sort()).toEqual(['payload', 'topic']);
    expect(byName.get('mqttDisconnect')?.inputSchema.required ?? []).toEqual([]);
  });

  it(verifies('mqtt.compat.server-name'), async () => {
    const s = await pool.open();
    expect(s.client.getServerVersion()?.name).toBe('mqtt-server');
  });

  it(verifies('mqtt.tools.annotations'), async () => {
    const s = await pool.open();
    const { tools } = await s.client.listTools();
    for (const tool of tools) {
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof tool.annotations?.[hint], `${tool.name}.${hint}`).toBe('boolean');
      }
    }
    const status = await s.call('mqttStatus');
    expect(status.structuredContent).toEqual({ connections: [] });
  });

  /** A session connected to the tier's broker, as client `clientId`. */
  async function connected(clientId: string) {
    const t = ctx.target();
    const s = await pool.open();
    await s.ok('mqttConnect', { host: t.host, port: t.port, clientId });
    return s;
  }

  it(verifies('mqtt.compat.connect-text'), async () => {
    const t = ctx.target();
    const s = await pool.open();
    const connect = await s.call('mqttConnect', { host: t.host, port: t.port, clientId: 'original-texts' });
    expect(textOf(connect)).toBe(
      `Successfully connected to MQTT broker at ${t.host}:${t.port} with client ID original-texts`,
    );
  });

  it(verifies('mqtt.compat.subscribe-text'), async () => {
    const s = await connected('original-subscribe');
    expect(textOf(await s.call('mqttSubscribe', { topic: 'orig/#', qos: 1 }))).toBe(
      "Successfully subscribed to MQTT topic 'orig/#' with QoS 1",
    );
  });

  it(verifies('mqtt.compat.publish-text'), async () => {
    const s = await connected('original-publish');
    expect(
      textOf(await s.call('mqttPublish', { topic: 'orig/x', payload: 'p', qos: 2, retain: false })),
    ).toBe("Successfully published message to MQTT topic 'orig/x' with QoS 2, retain: false");
  });

  it(verifies('mqtt.compat.disconnect-text'), async () => {
    const s = await connected('original-disconnect');
    expect(textOf(await s.call('mqttDisconnect'))).toBe('Successfully disconnected from MQTT broker');
  });

  it(verifies('mqtt.subscribe.wildcards'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'wc/+/temp', qos: 1 });
    await s.ok('mqttSubscribe', { topic: 'wc/deep/#', qos: 1 });
    for (const topic of ['wc/a/temp', 'wc/a/hum', 'wc/a/b/temp', 'wc/deep', 'wc/deep/x/y', 'other/a/temp']) {
      await s.ok('mqttPublish', { topic, payload: topic, qos: 1 });
    }
    await s.ok('mqttSubscribe', { topic: 'wc/end', qos: 1 });
    await s.ok('mqttPublish', { topic: 'wc/end', payload: 'end', qos: 1 });
    await s.ok<ReadResult>('mqttReadMessages', { topic: 'wc/end', waitMs: 10_000 });
    const read = await s.ok<ReadResult>('mqttReadMessages');
    // '#' also matches its parent level [MQTT-4.7.1-2].
    expect(read.messages.map((m) => m.topic).sort()).toEqual(['wc/a/temp', 'wc/deep', 'wc/deep/x/y']);
  });

  it(verifies('mqtt.subscribe.filter-validation'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    for (const topic of ['a/#/b', 'a#', 'a/b+']) {
      const result = await s.call('mqttSubscribe', { topic });
      expect(result.isError, topic).toBe(true);
      expect(textOf(result)).toContain('topic filter');
    }
    const publish = await s.call('mqttPublish', { topic: 'a/+', payload: 'x' });
    expect(publish.isError).toBe(true);
    // The session and its connection survive bad input.
    await s.ok('mqttPublish', { topic: 'a/ok', payload: 'x' });
  });

  it(verifies('mqtt.qos.levels'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'qos/#', qos: 2 });
    for (const qos of [0, 1, 2]) await s.ok('mqttPublish', { topic: `qos/${qos}`, payload: `q${qos}`, qos });
    await eventually(() => (s.notifications.length >= 3 ? true : undefined), 'three deliveries');
    const all = (await s.ok<ReadResult>('mqttReadMessages')).messages;
    expect(all.map((m) => [m.topic, m.qos]).sort()).toEqual([
      ['qos/0', 0],
      ['qos/1', 1],
      ['qos/2', 2],
    ]);
  });

  it(verifies('mqtt.retain'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttPublish', { topic: 'retain/r', payload: 'kept', qos: 1, retain: true });
    const later = await pool.open();
    await later.ok('mqttConnect', connectArgs(ctx.target()));
    await later.ok('mqttSubscribe', { topic: 'retain/#', qos: 1 });
    const read = await later.ok<ReadResult>('mqttReadMessages', { waitMs: 10_000 });
    expect(read.messages).toMatchObject([{ topic: 'retain/r', payload: 'kept', retain: true }]);
    // Clear it: an empty retained payload deletes the retained message.
    await s.ok('mqttPublish', { topic: 'retain/r', payload: '', qos: 1, retain: true });
  });

  it(verifies('mqtt.unsubscribe'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'unsub/a', qos: 1 });
    await s.ok('mqttSubscribe', { topic: 'unsub/marker', qos: 1 });
    expect(textOf(await s.call('mqttUnsubscribe', { topic: 'unsub/a' }))).toBe(
      "Successfully unsubscribed from MQTT topic 'unsub/a'",
    );
    await s.ok('mqttPublish', { topic: 'unsub/a', payload: 'not for us', qos: 1 });
    await s.ok('mqttPublish', { topic: 'unsub/marker', payload: 'marker', qos: 1 });
    // Same connection, same broker, QoS 1: the marker arrives after anything published before it.
    await s.ok('mqttReadMessages', { topic: 'unsub/marker', waitMs: 10_000 });
    const rest = await s.ok<ReadResult>('mqttReadMessages');
    expect(rest.messages).toEqual([]);
    const status = await s.ok<{ connections: Array<{ subscriptions: unknown[] }> }>('mqttStatus');
    expect(status.connections[0]?.subscriptions).toEqual([{ topic: 'unsub/marker', qos: 1, grantedQos: 1 }]);
  });

  it(verifies('mqtt.read.wait'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'wait/#', qos: 1 });
    // Asked before anything is published: the read waits past a message it does not match.
    const waiting = s.call('mqttReadMessages', { topic: 'wait/+/yes', waitMs: 20_000, limit: 1 });
    await s.ok('mqttPublish', { topic: 'wait/1/no', payload: 'other', qos: 1 });
    await s.ok('mqttPublish', { topic: 'wait/1/yes', payload: 'first', qos: 1 });
    const got = (await waiting).structuredContent as unknown as ReadResult;
    expect(got.messages.map((m) => m.payload)).toEqual(['first']);
  });

  it(verifies('mqtt.read.filter'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'filter/#', qos: 1 });
    await s.ok('mqttPublish', { topic: 'filter/1/no', payload: 'other', qos: 1 });
    await s.ok('mqttPublish', { topic: 'filter/1/yes', payload: 'first', qos: 1 });
    await s.ok('mqttPublish', { topic: 'filter/2/yes', payload: 'second', qos: 1 });
    await eventually(() => (s.notifications.length >= 3 ? true : undefined), 'three deliveries');
    const one = await s.ok<ReadResult>('mqttReadMessages', { topic: 'filter/+/yes', limit: 1 });
    expect(one.messages.map((m) => m.payload)).toEqual(['first']);
    const second = await s.ok<ReadResult>('mqttReadMessages', { topic: 'filter/+/yes' });
    expect(second.messages.map((m) => m.payload)).toEqual(['second']);
    // What the filter left out is still buffered.
    const other = await s.ok<ReadResult>('mqttReadMessages');
    expect(other.messages.map((m) => m.payload)).toEqual(['other']);
  });

  /**
   * A session whose buffer of two is full after five messages nobody read: the full buffer held the
   * broker back for the pause, then dropped the oldest.
   */
  async function overflowed() {
    const s = await pool.open({ maxBufferedMessages: 2, bufferFullPauseMs: 300 });
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'bounded', qos: 1 });
    for (let i = 1; i <= 5; i++) await s.ok('mqttPublish', { topic: 'bounded', payload: String(i), qos: 1 });
    await eventually(() => (s.notifications.length >= 5 ? true : undefined), 'five deliveries');
    return s;
  }
  type StatusResult = { connections: Array<Record<string, unknown> & { buffer: Record<string, unknown> }> };

  it(verifies('mqtt.read.bounded'), async () => {
    const s = await overflowed();
    const read = await s.ok<ReadResult>('mqttReadMessages');
    expect(read.messages.map((m) => m.payload)).toEqual(['4', '5']);
    expect(read.dropped).toBe(3);
  });

  it(verifies('mqtt.buffer.limit-visible'), async () => {
    const s = await overflowed();
    const status = await s.ok<StatusResult>('mqttStatus');
    expect(status.connections[0]?.buffer).toMatchObject({
      size: 2,
      capacity: 2,
      maxBytes: 64 * 1024 * 1024,
      dropped: 3,
      // The pause ran out without a read: it drops at once now, until somebody reads.
      whenFull: 'drop-oldest',
      pauseMs: 300,
      paused: false,
      pauses: 1,
    });
    await s.ok('mqttReadMessages');
    const afterRead = await s.ok<StatusResult>('mqttStatus');
    expect(afterRead.connections[0]?.buffer).toMatchObject({ size: 0, bytes: 0, whenFull: 'pause' });
  });

  it(verifies('mqtt.status'), async () => {
    const s = await overflowed();
    const status = await s.ok<StatusResult>('mqttStatus');
    expect(status.connections[0]).toMatchObject({
      state: 'connected',
      subscriptions: [{ topic: 'bounded', qos: 1 }],
      buffer: { size: 2, capacity: 2, dropped: 3 },
    });
  });

  it(verifies('mqtt.payload.binary'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'bin/#', qos: 1 });
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0xc3]);
    await s.ok('mqttPublish', {
      topic: 'bin/raw',
      payload: bytes.toString('base64'),
      payloadEncoding: 'base64',
      qos: 1,
    });
    await s.ok('mqttPublish', { topic: 'bin/text', payload: 'aGVsbG8=', payloadEncoding: 'base64', qos: 1 });
    await eventually(() => (s.notifications.length >= 2 ? true : undefined), 'both deliveries');
    const read = await s.ok<ReadResult>('mqttReadMessages');
    expect(read.messages).toMatchObject([
      { topic: 'bin/raw', payload: bytes.toString('base64'), payloadEncoding: 'base64' },
      { topic: 'bin/text', payload: 'hello', payloadEncoding: 'utf8' },
    ]);
  });

  it(verifies('mqtt.payload.limit'), async () => {
    const s = await pool.open({ maxPayloadBytes: 1024 });
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    const result = await s.call('mqttPublish', { topic: 'big', payload: 'x'.repeat(1025) });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('1025 bytes; the limit is 1024');
    await s.ok('mqttPublish', { topic: 'big', payload: 'x'.repeat(1024) });
  });

  it(verifies('mqtt.notify.logging'), async () => {
    const s = await pool.open();
    await s.ok('mqttConnect', connectArgs(ctx.target()));
    await s.ok('mqttSubscribe', { topic: 'note/#', qos: 1 });
    await s.ok('mqttPublish', { topic: 'note/a', payload: 'ping', qos: 1, retain: false });
    const [n] = await eventually(
      () => (s.notifications.length > 0 ? s.notifications : undefined),
      'a notification',
    );
    expect(n).toMatchObject({
      level: 'info',
      data: { connection: 'default', topic: 'note/a', payload: 'ping', qos: 1, retain: false },
    });
  });
});
