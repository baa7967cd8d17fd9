/**
 * Runs a tool body so that no failure escapes as a protocol error or a crash: a ToolError becomes its
 * result; anything else is a bug or an unforeseen failure, logged with its stack and answered as
 * INTERNAL_ERROR without internals (a stack or a path is no help to the model and may say too much).
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { ToolError, toolError } from './tool-result.js';

export interface RunToolOptions {
  /**
   * Turns a failure a server knows how to describe (a library's error with a useful message) into
   * its ToolError; undefined leaves it unforeseen.
   */
  classify?: (err: unknown) => ToolError | undefined;
}

export async function runTool(
  logger: Logger,
  tool: string,
  body: () => Promise<CallToolResult>,
  options: RunToolOptions = {},
): Promise<CallToolResult> {
  try {
    return await body();
  } catch (err) {
    const known = err instanceof ToolError ? err : options.classify?.(err);
    if (known !== undefined) {
      logger.debug({ tool, code: known.code }, 'tool call failed');
      return known.toToolResult();
    }
    logger.error({ err, tool }, 'tool failed unexpectedly');
    return toolError('INTERNAL_ERROR', `${tool} failed unexpectedly; the server logged the cause`);
  }
}
