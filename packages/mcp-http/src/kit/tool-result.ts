/**
 * Tool results for both servers (and the gateway's denials): one shape for success, one for failure.
 *
 * An operational failure (broker refused, auth failed, timeout, bad input the model can correct) is a
 * tool result with `isError: true`, a clear text for the model, and a stable UPPER_SNAKE code for
 * programs. The code travels in `_meta["dev.bastion/error"]`, never in `structuredContent`: the
 * official clients validate `structuredContent` against the tool's `outputSchema` even on an error
 * result, and an error shaped `{ code, message }` fails every success schema. That is how nine
 * bastion-ssh error paths reached every official client as -32602 instead of as their error.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';

/** Where an error result keeps its code and machine-readable details. */
export const ERROR_META_KEY = 'dev.bastion/error';

export interface ToolErrorData {
  /** Stable, UPPER_SNAKE, e.g. `AUTH_FAILED`. */
  code: string;
  [detail: string]: unknown;
}

/** The error result an agent sees for `code`; `details` are machine-readable facts, never secrets. */
export function toolError(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    _meta: { [ERROR_META_KEY]: { code, ...details } satisfies ToolErrorData },
  };
}

/** The code and details of an error result, or undefined for a success (or a result from elsewhere). */
export function errorDataOf(result: {
  isError?: boolean;
  _meta?: Record<string, unknown>;
}): ToolErrorData | undefined {
  const data = result._meta?.[ERROR_META_KEY];
  if (result.isError !== true || data === null || typeof data !== 'object') return undefined;
  return typeof (data as { code?: unknown }).code === 'string' ? (data as ToolErrorData) : undefined;
}

/** A successful result: the text a model reads, and the same facts as structured content. */
export function success(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/** A successful result whose text is the structured content as JSON (for data-returning tools). */
export function jsonResult(structured: Record<string, unknown>): CallToolResult {
  return success(JSON.stringify(structured, null, 2), structured);
}

/** The one error type of a server's tools: a code, a message for the model, details, and a cause. */
export class ToolError extends Error {
  override readonly name: string = 'ToolError';
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    readonly code: string,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details ?? {};
  }

  toToolResult(): CallToolResult {
    return toolError(this.code, this.message, { ...this.details });
  }
}

/** Bad input the schema could not express (bad base64, an option the connection cannot use): the model can fix it. */
export function invalidInput(message: string, details: Record<string, unknown> = {}): ToolError {
  return new ToolError('INVALID_INPUT', message, { details });
}
