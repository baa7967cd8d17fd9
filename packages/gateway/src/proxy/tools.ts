/**
 * How a tool is shown to the agent. Unchanged, unless the policy may deny it after it was listed (a
 * condition or a limit) and it declares an outputSchema: SDK clients validate `structuredContent`
 * against the outputSchema even on error results, so a denial's `{ code, policy }` would be rejected
 * as malformed. Such a schema is widened to "the tool's own output, or the gateway's result".
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

export const GATEWAY_RESULT_SCHEMA = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    policy: {
      type: 'object',
      properties: {
        decision: { type: 'string' },
        rule: { type: 'string' },
        reason: { type: 'string' },
        retryAfterMs: { type: 'number' },
      },
      required: ['decision', 'rule', 'reason'],
    },
  },
  required: ['code'],
} as const;

export function widenOutputSchema(
  schema: NonNullable<Tool['outputSchema']>,
): NonNullable<Tool['outputSchema']> {
  // `$schema` and definitions stay at the root: `#/$defs/...` references are resolved from there.
  const { $schema, $defs, definitions, ...own } = schema as Record<string, unknown>;
  return {
    ...($schema === undefined ? {} : { $schema }),
    type: 'object',
    anyOf: [own, GATEWAY_RESULT_SCHEMA],
    ...($defs === undefined ? {} : { $defs }),
    ...(definitions === undefined ? {} : { definitions }),
  } as NonNullable<Tool['outputSchema']>;
}

export function presentTool(tool: Tool, mayDenyAfterListing: boolean): Tool {
  if (tool.outputSchema === undefined || !mayDenyAfterListing) return tool;
  return { ...tool, outputSchema: widenOutputSchema(tool.outputSchema) };
}
