/**
 * The arguments as the upstream will use them: the agent's arguments with the `default` values of the
 * tool's inputSchema filled in, so that `deny_if args.port eq 22` also denies a `connect` that leaves
 * `port` out when the schema says `"default": 22` (the upstream's own validation fills it in the same
 * way). Ajv's `useDefaults` does the filling: it follows `properties` at every depth, `$ref`, `allOf`
 * and array `items`, and, as JSON Schema leaves open which branch of `anyOf`/`oneOf` applies, ignores
 * defaults inside those (so does Ajv). Only what the gateway decides on uses the result; the arguments
 * forwarded upstream stay exactly as the agent sent them.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

export type ArgsWithDefaults =
  | { ok: true; args: Readonly<Record<string, unknown>> }
  | { ok: false; reason: string };

type Filler = (args: Readonly<Record<string, unknown>>) => ArgsWithDefaults;

const OPTIONS = {
  useDefaults: true,
  // Keep walking after the first validation error: defaults further on must still be filled.
  allErrors: true,
  strict: false,
  validateSchema: false,
  validateFormats: false,
  logger: false,
} as const;

/** Draft 2020-12 is MCP's default dialect (2025-11-25); draft-07 and older name themselves in `$schema`. */
const DRAFT_07_AND_OLDER = /json-schema\.org\/draft-0[4-7]\/schema/;

/**
 * One Ajv per dialect. Compiled fillers are found by schema object (a tool list keeps its objects),
 * else by the schema's text: every session lists the same tools anew, and they share one compilation.
 * The text cache is bounded, as the upstream decides what its schemas are.
 */
let instances: { modern: Ajv2020; legacy: Ajv } | undefined;
const fillers = new WeakMap<object, Filler>();
const byText = new Map<string, Filler>();
const MAX_COMPILED = 256;

function ajvFor(schema: Record<string, unknown>): Ajv | Ajv2020 {
  instances ??= { modern: new Ajv2020(OPTIONS), legacy: new Ajv(OPTIONS) };
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  return DRAFT_07_AND_OLDER.test(dialect) ? instances.legacy : instances.modern;
}

function compile(schema: Record<string, unknown>): Filler {
  if (!declaresDefault(schema)) return (args) => ({ ok: true, args });
  let validate: ValidateFunction;
  try {
    const ajv = ajvFor(schema);
    // The compiled function is kept here, not in Ajv's own cache, so that it goes with its tool list.
    validate = ajv.compile(schema);
    ajv.removeSchema(schema);
  } catch (err) {
    const reason = `the tool's inputSchema cannot be read, so its defaults are unknown: ${(err as Error).message}`;
    return () => ({ ok: false, reason });
  }
  return (args) => {
    // Ajv fills defaults in place: on a copy, so what is forwarded stays as sent.
    const copy = structuredClone(args) as Record<string, unknown>;
    validate(copy);
    return { ok: true, args: copy };
  };
}

/** Whether `default` appears anywhere in the schema (most tools have none: nothing to copy then). */
function declaresDefault(schema: unknown, depth = 0): boolean {
  if (schema === null || typeof schema !== 'object' || depth > 64) return false;
  if (Array.isArray(schema)) return schema.some((s) => declaresDefault(s, depth + 1));
  if (Object.hasOwn(schema, 'default')) return true;
  return Object.values(schema).some((v) => declaresDefault(v, depth + 1));
}

/**
 * `args` with the defaults of `inputSchema` filled in. A tool without a usable schema (none, or not an
 * object) leaves the arguments as they are; a schema Ajv cannot compile gives `ok: false`, so that a
 * rule with conditions can refuse the call rather than decide on arguments it may have wrong.
 */
export function withSchemaDefaults(
  args: Readonly<Record<string, unknown>>,
  inputSchema: unknown,
): ArgsWithDefaults {
  if (inputSchema === null || typeof inputSchema !== 'object' || Array.isArray(inputSchema)) {
    return { ok: true, args };
  }
  let filler = fillers.get(inputSchema);
  if (filler === undefined) {
    const text = JSON.stringify(inputSchema);
    filler = byText.get(text);
    if (filler === undefined) {
      filler = compile(inputSchema as Record<string, unknown>);
      if (byText.size >= MAX_COMPILED) byText.delete(byText.keys().next().value as string);
      byText.set(text, filler);
    }
    fillers.set(inputSchema, filler);
  }
  return filler(args);
}
