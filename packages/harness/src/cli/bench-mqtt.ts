/**
 * `bastion bench-mqtt`: issue 13's burst as a figure. A Mosquitto (process tier) and the bastion-mqtt
 * bin over Streamable HTTP are started, then each run publishes the burst while an SDK client reads
 * with mqttReadMessages in a loop, next to a plain mqtt.js subscriber (bench/mqtt-burst.ts). The
 * test (mqtt-burst.test.ts) asserts that nothing is lost; this prints how it went.
 */
import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { BurstResult } from '../bench/mqtt-burst.js';
import type { CliContext } from './context.js';

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

interface BenchMqttFlags {
  messages: number;
  rate: number;
  qos: string;
  payloadBytes: number;
  readLimit: number;
  runs: number;
  serverArgs?: string;
  serverBin?: string;
  json?: boolean;
}

export function benchMqttCommand(ctx: CliContext): Command {
  return new Command('bench-mqtt')
    .description(
      "issue 13's MQTT burst: messages published at a rate while an MCP client reads them through " +
        'bastion-mqtt, counted next to a plain mqtt.js subscriber (needs mosquitto on PATH)',
    )
    .option('--messages <n>', 'messages per burst', count, 10_000)
    .option('--rate <n>', 'messages per second the publisher aims at', count, 12_000)
    .addOption(
      new Option('--qos <n>', 'QoS of the publishes and subscriptions').choices(['0', '1', '2']).default('0'),
    )
    .option('--payload-bytes <n>', 'payload size', count, 64)
    .option('--read-limit <n>', "mqttReadMessages' limit in the read loop", count, 1000)
    .option('--runs <n>', 'bursts, one after the other on the same server', count, 3)
    .option(
      '--server-args <args>',
      'extra bastion-mqtt arguments, space-separated (e.g. "--buffer-size 1000")',
    )
    .option(
      '--server-bin <path>',
      'another bastion-mqtt bin to measure (e.g. a checkout of an older version)',
    )
    .option('--json', 'print the results as JSON instead of lines')
    .action(async (flags: BenchMqttFlags) => {
      const { describeBurst, ISSUE_BURST, runMqttBurst } = await import('../bench/mqtt-burst.js');
      const { startMosquittoBroker } = await import('../targets/mqtt/mosquitto.js');
      const { BASTION_BINS, McpServerProcess } = await import('../targets/mcp-process.js');
      const progress = (line: string) => ctx.stderr.write(`[bench-mqtt] ${line}\n`);
      const serverArgs = (flags.serverArgs ?? '').split(/\s+/).filter((a) => a !== '');
      const broker = await startMosquittoBroker();
      let server: Awaited<ReturnType<typeof McpServerProcess.start>> | undefined;
      let client: Client | undefined;
      const results: BurstResult[] = [];
      try {
        server = await McpServerProcess.start({
          name: 'bastion-mqtt',
          script: flags.serverBin === undefined ? BASTION_BINS.mqtt : resolve(ctx.cwd, flags.serverBin),
          args: ['--transport', 'http', ...serverArgs],
        });
        progress(`mosquitto at ${broker.url}, bastion-mqtt at ${server.url}/mcp ${serverArgs.join(' ')}`);
        let notifications = 0;
        client = new Client({ name: 'bastion-bench-mqtt', version: '1.0.0' });
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
          if (n.params.level === 'info') notifications++;
        });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
        const connected = client;
        for (let run = 1; run <= flags.runs; run++) {
          ctx.signal.throwIfAborted();
          const result = await runMqttBurst(
            {
              call: async (name, args) =>
                (await connected.callTool({ name, arguments: args })) as CallToolResult,
              notificationCount: () => notifications,
            },
            {
              ...ISSUE_BURST,
              messages: flags.messages,
              rate: flags.rate,
              qos: Number(flags.qos) as 0 | 1 | 2,
              payloadBytes: flags.payloadBytes,
              readLimit: flags.readLimit,
              host: broker.host,
              port: broker.port,
              signal: ctx.signal,
            },
          );
          results.push(result);
          if (!flags.json) ctx.stdout.write(`${describeBurst(`run ${run}/${flags.runs}`, result)}\n`);
        }
      } catch (err) {
        // What the server said last is the first thing to look at.
        if (server !== undefined) progress(`bastion-mqtt's last output:\n${server.recentOutput().trim()}`);
        const cause = (err as { cause?: unknown }).cause;
        if (cause !== undefined) progress(`cause: ${cause instanceof Error ? cause.message : String(cause)}`);
        throw err;
      } finally {
        await client?.close().catch(() => undefined);
        await server?.stop();
        await broker.stop();
      }
      if (flags.json) ctx.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      const lost = results.filter((r) => r.agent.read < r.plain.received);
      if (lost.length > 0) {
        progress(
          `${lost.length} of ${results.length} runs read fewer messages than the plain subscriber got`,
        );
        ctx.setExitCode(1);
      }
    });
}
