import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { connectionSchema, runTool, success, type ToolContext } from './context.js';

export const MQTT_DISCONNECT = 'mqttDisconnect';

/** The original's description, verbatim. */
const description = 'Disconnects from the currently connected MQTT broker.';

export function registerMqttDisconnectTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    MQTT_DISCONNECT,
    {
      description,
      inputSchema: z.object({ connection: connectionSchema }),
      annotations: {
        title: 'Disconnect from an MQTT broker',
        readOnlyHint: false,
        destructiveHint: false,
        // Disconnecting what is not connected succeeds too, so a retried call cannot fail.
        idempotentHint: true,
        openWorldHint: true,
      },
    },
    ({ connection }) =>
      runTool(ctx, MQTT_DISCONNECT, async () => {
        const wasConnected = await ctx.connections.close(connection);
        if (wasConnected) ctx.logger.info({ connection }, 'broker disconnected');
        return success('Successfully disconnected from MQTT broker', { connection, wasConnected });
      }),
  );
}
