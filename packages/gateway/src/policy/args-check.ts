/**
 * Checks every `args.*` path of a policy against the upstream tool's `inputSchema`, once the
 * upstream has been reached. A misspelt path would otherwise make a `require` deny every call, or a
 * `deny_if` never fire, without a word (the complaint POLICY.md records about other gateways).
 */
import type { CompiledPolicy } from './compile.js';
import { asSchema, type JsonSchema, refTarget } from './json-schema.js';
import type { Problem } from './problems.js';

export interface ToolSchemaInfo {
  name: string;
  inputSchema: unknown;
}

/** Follows a local `$ref` (`#/$defs/x`, `#/definitions/x`) within the tool's schema. */
function deref(schema: JsonSchema, root: JsonSchema, seen = new Set<string>()): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || seen.has(ref)) return schema;
  seen.add(ref);
  const resolved = refTarget(ref, root);
  return resolved === undefined ? schema : deref(resolved, root, seen);
}

/**
 * Whether `path` can name something in a value of `schema`. A declared property, a matching
 * `patternProperties` entry, an array index with `items`, or an `additionalProperties` schema lead
 * further down; unions accept a path that any branch accepts. Where properties are declared, a name
 * outside them is taken as a misspelling even if `additionalProperties` is left open (zod-made
 * schemas often leave it out); a schema that declares no shape at all accepts any path.
 */
function pathExists(schemaIn: JsonSchema, path: ReadonlyArray<string>, root: JsonSchema): boolean {
  const [head, ...rest] = path;
  if (head === undefined) return true;
  const schema = deref(schemaIn, root);
  const branches = [schema.anyOf, schema.oneOf, schema.allOf]
    .flatMap((b) => (Array.isArray(b) ? b : []))
    .map(asSchema)
    .filter((b): b is JsonSchema => b !== undefined);
  if (branches.some((b) => pathExists(b, path, root))) return true;

  const properties = asSchema(schema.properties);
  if (properties !== undefined && Object.hasOwn(properties, head)) {
    return pathExists(asSchema(properties[head]) ?? {}, rest, root);
  }
  for (const [pattern, child] of Object.entries(asSchema(schema.patternProperties) ?? {})) {
    let matches = false;
    try {
      matches = new RegExp(pattern, 'u').test(head);
    } catch {
      // An invalid pattern in the upstream's schema names nothing.
    }
    if (matches) return pathExists(asSchema(child) ?? {}, rest, root);
  }
  const items = asSchema(schema.items);
  if (items !== undefined && /^(0|[1-9]\d*)$/.test(head)) return pathExists(items, rest, root);
  const additional = schema.additionalProperties;
  const additionalSchema = asSchema(additional);
  if (additionalSchema !== undefined) return pathExists(additionalSchema, rest, root);

  const declaresShape =
    properties !== undefined || branches.length > 0 || items !== undefined || additional === false;
  if (declaresShape) return false;
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  return types.length === 0 || types.includes('object') || types.includes('array');
}

/**
 * Problems for every condition whose path does not exist in its tool's inputSchema. Tools the
 * upstream does not offer are skipped here (the policy may be written ahead of the server); the
 * caller may report them separately.
 */
export function checkArgPaths(policy: CompiledPolicy, tools: ReadonlyMap<string, ToolSchemaInfo>): Problem[] {
  const problems: Problem[] = [];
  for (const [name, rule] of policy.rules) {
    const tool = tools.get(name);
    if (tool === undefined) continue;
    const root = asSchema(tool.inputSchema) ?? {};
    for (const condition of [...rule.require, ...rule.denyIf, ...rule.requireApprovalIf]) {
      if (!pathExists(root, condition.argPath, root)) {
        problems.push({
          pointer: `${condition.pointer}/path`,
          message: `tool '${name}' has no argument '${condition.source.path}' in its inputSchema`,
        });
      }
    }
  }
  return problems;
}

/** Names in the policy's `tools` that the upstream does not offer (worth a warning, not an error). */
export function unknownToolNames(policy: CompiledPolicy, tools: ReadonlyMap<string, unknown>): string[] {
  return [...policy.rules.keys()].filter((name) => !tools.has(name));
}
