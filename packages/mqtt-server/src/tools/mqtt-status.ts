import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { jsonResult, runTool, type ToolContext } from './context.js';

export const MQTT_STATUS = 'mqttStatus';

export function registerMqttStatusTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_STATUS,
    {
      description:
        "Shows this session's broker connections: state (connected, reconnecting), subscriptions and buffer use.",
      inputSchema: z.object({
        connection: z.string().optional().describe('Only this connection (default: all)'),
      }),
      annotations: {
        title: 'MQTT connection status',
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ connection }) =>
      runTool(ctx, MQTT_STATUS, async () => {
        const list = connection === undefined ? ctx.connections.list() : [ctx.connections.get(connection)];
        return jsonResult({ connections: list.map((c) => c.status()) });
      }),
  );
}
