/** What every tool of one MCP session shares, and the small schemas and helpers they have in common. */
import { invalidInput, jsonResult, runTool as runKitTool, success } from '@bastion/mcp-http/kit';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { MqttServerConfig } from '../config.js';
import type { ConnectionRegistry } from '../connections.js';
import { topicFilterProblem, topicNameProblem } from '../topics.js';

export interface ToolContext {
  config: MqttServerConfig;
  connections: ConnectionRegistry;
  logger: Logger;
}

export const DEFAULT_CONNECTION = 'default';

export const connectionSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a connection name is 1-64 letters, digits, _ . : or -')
  .default(DEFAULT_CONNECTION)
  .describe(
    `Name of the broker connection (several may be open per session); default '${DEFAULT_CONNECTION}'`,
  );

/**
 * QoS as the original declares it: a JSON number, 0, 1 or 2. (`.int()` would turn it into
 * `integer` in the JSON Schema, which clients of the original do not expect.)
 */
export const qosSchema = z
  .number()
  .min(0)
  .max(2)
  .refine(Number.isInteger, 'QoS must be 0, 1 or 2')
  .default(0)
  .transform((q) => q as 0 | 1 | 2);

export const topicNameSchema = z.string().superRefine((topic, ctx) => {
  const problem = topicNameProblem(topic);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `topic ${problem}` });
});

export const topicFilterSchema = z.string().superRefine((filter, ctx) => {
  const problem = topicFilterProblem(filter);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `topic filter ${problem}` });
});

export const payloadEncodingSchema = z
  .enum(['utf8', 'base64'])
  .default('utf8')
  .describe("How `payload` is written: 'utf8' text (default) or 'base64' for binary data");

export { invalidInput, jsonResult, success };

/** Runs a tool body: an operational failure becomes its `isError` result, never a protocol error. */
export function runTool(
  ctx: ToolContext,
  tool: string,
  body: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  return runKitTool(ctx.logger, tool, body);
}
