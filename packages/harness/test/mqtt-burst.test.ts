/**
 * Bursts (issue 13, MQTT item 2): a plain mqtt.js publisher sends faster than a client reads, an
 * agent reads concurrently through the official SDK client's callTool, and a plain mqtt.js
 * subscriber in the same run counts what the broker delivered. Figures: `bastion bench-mqtt`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type BurstAgent, ISSUE_BURST, runMqttBurst } from '../src/bench/mqtt-burst.js';
import { verifies } from '../src/requirements/index.js';
import { type McpServerProcess, startMqttServerProcess } from '../src/targets/mcp-process.js';
import { mqttBrokerProviders } from '../src/targets/mqtt/index.js';
import { describeEachTier } from '../src/testing/tiers.js';
import { type McpSession, sessionPool } from './mqtt-helpers.js';

const BURST_TIMEOUT = 180_000;

function agentOf(session: McpSession): BurstAgent {
  return {
    call: (name, args) => session.call(name, args),
    notificationCount: () => session.notifications.filter((n) => n.level === 'info').length,
  };
}

describeEachTier('MQTT bursts', mqttBrokerProviders, (ctx) => {
  // The issue's setup: the bastion-mqtt bin over Streamable HTTP, default settings.
  let server: McpServerProcess;
  let client: Client;
  let notifications = 0;
  const pool = sessionPool();
  beforeAll(async () => {
    server = await startMqttServerProcess();
    client = new Client({ name: 'burst-test', version: '1.0.0' });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      if (n.params.level === 'info') notifications++;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });
  afterEach(() => pool.closeAll());

  it(
    verifies('mqtt.burst.no-loss'),
    async () => {
      const t = ctx.target();
      const agent: BurstAgent = {
        call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
        notificationCount: () => notifications,
      };
      const r = await runMqttBurst(agent, { ...ISSUE_BURST, host: t.host, port: t.port });
      expect(r.plain.received).toBe(ISSUE_BURST.messages);
      expect(r.agent).toMatchObject({ read: ISSUE_BURST.messages, dropped: 0, outOfOrder: 0 });
      expect(r.agent.status).toMatchObject({ buffer: { dropped: 0, size: 0 } });
    },
    BURST_TIMEOUT,
  );

  it(
    verifies('mqtt.burst.backpressure'),
    async () => {
      const t = ctx.target();
      // A buffer a tenth of the burst, and a reader that starts only once it is full and holding the
      // broker back, then takes 50 messages a read: without the pause most of the burst would be lost.
      const s = await pool.open({ maxBufferedMessages: 200, bufferFullPauseMs: 10_000 });
      const r = await runMqttBurst(agentOf(s), {
        ...ISSUE_BURST,
        messages: 2_000,
        rate: 5_000,
        qos: 1,
        readLimit: 50,
        readWaitMs: 200,
        readFrom: 'paused',
        host: t.host,
        port: t.port,
      });
      expect(r.plain.received).toBe(2_000);
      expect(r.agent).toMatchObject({ read: 2_000, dropped: 0, outOfOrder: 0 });
      const buffer = (r.agent.status as { buffer: { pauses: number; dropped: number } }).buffer;
      expect(buffer.pauses).toBeGreaterThanOrEqual(1);
      expect(buffer.dropped).toBe(0);
    },
    BURST_TIMEOUT,
  );

  it(
    verifies('mqtt.notify.paced'),
    async () => {
      const t = ctx.target();
      const s = await pool.open({ maxNotificationsPerSecond: 50 });
      const r = await runMqttBurst(agentOf(s), {
        ...ISSUE_BURST,
        messages: 2_000,
        host: t.host,
        port: t.port,
      });
      expect(r.agent).toMatchObject({ read: 2_000, dropped: 0 });
      const counted = (
        r.agent.status as { notifications: { perSecond: number; sent: number; skipped: number } }
      ).notifications;
      expect(counted.perSecond).toBe(50);
      expect(counted.sent + counted.skipped).toBe(2_000);
      expect(counted.skipped).toBeGreaterThan(0);
      expect(r.agent.notifications).toBe(counted.sent);
      const warnings = s.notifications.filter((n) => n.level === 'warning');
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings[0]).toMatchObject({
        logger: 'mqtt',
        data: { connection: 'burst', event: 'notifications-skipped' },
      });
      expect(JSON.stringify(warnings[0]?.data)).toContain('mqttReadMessages');
    },
    BURST_TIMEOUT,
  );
});
