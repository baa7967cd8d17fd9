/**
 * Reading an upstream tool's inputSchema: shared by the policy's path check (args-check.ts) and the
 * audit's redaction (audit/redact.ts), which both walk it by hand because they ask what a validator
 * does not answer (may this path exist; is the value at this place secret).
 */
export type JsonSchema = Record<string, unknown>;

export function asSchema(value: unknown): JsonSchema | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;
}

/** The target of a local `$ref` (`#/$defs/x`, `#/definitions/x`) within `root`, one step. */
export function refTarget(ref: unknown, root: JsonSchema): JsonSchema | undefined {
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
  let target: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    target = asSchema(target)?.[raw.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return asSchema(target);
}
