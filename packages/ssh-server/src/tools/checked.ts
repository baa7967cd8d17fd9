/**
 * Tool results that pass the official clients' check: `callTool` validates `structuredContent`
 * against the tool's `outputSchema` whenever it is present, error results included, and throws
 * -32602 when it does not match. An error result therefore keeps its `structuredContent` (the
 * stable `code` and details) only when the schema accepts it; otherwise the text alone carries the
 * message and the code, as `message [code]`.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type ZodRawShape, z } from 'zod';
import { runTool, type ToolContext } from './context.js';

export async function runCheckedTool(
  ctx: ToolContext,
  tool: string,
  output: ZodRawShape,
  body: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const result = await runTool(ctx, tool, body);
  // Strict, as the JSON Schema the SDK lists for a zod object says `additionalProperties: false`.
  if (
    result.structuredContent === undefined ||
    z.strictObject(output).safeParse(result.structuredContent).success
  )
    return result;
  const { structuredContent: _dropped, ...rest } = result;
  return rest;
}
