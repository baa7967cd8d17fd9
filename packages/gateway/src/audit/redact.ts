/**
 * Argument values as the gateway records them (audit rows, and any message that may echo them), with
 * secrets taken out. A value is secret when
 * - its name says so: it contains password, passwd, passphrase, secret, token, key, authorization,
 *   credential, cookie or stdin, or one of its words (camelCase, snake_case, kebab-case) is pass, pwd,
 *   pin, otp or auth, in any case (`privateKey`, `DB_PASS`, `apiToken`, exec's `stdin`, which carries
 *   the password of a `sudo -S`); or
 * - the tool's own inputSchema marks it, at the place it describes: `writeOnly: true` (JSON Schema's
 *   "sent but never shown"), `format: "password"` (OpenAPI's), or `"x-secret": true` (Bastion's, for
 *   upstreams that want a field kept out of records without changing its validation). The schema is
 *   followed through `properties`, `patternProperties`, `additionalProperties`, `items`,
 *   `prefixItems`, local `$ref` and every branch of `anyOf`/`oneOf`/`allOf`.
 * A secret is replaced by `[REDACTED]` whatever its type (an object of secrets goes whole), at every
 * depth. The secret strings are also returned, so that a message quoting one (an upstream's error
 * text) can be scrubbed too. Long strings are cut so that one large payload cannot swell the log.
 */
import { asSchema, type JsonSchema, refTarget } from '../policy/json-schema.js';

export const REDACTED = '[REDACTED]';
const SECRET_PART = /password|passwd|passphrase|secret|token|key|authorization|credential|cookie|stdin/i;
const SECRET_WORDS = new Set(['pass', 'pwd', 'pin', 'otp', 'auth']);
const MAX_STRING = 2048;
const MAX_DEPTH = 8;

/** Whether a property name says its value is secret (see the file comment). */
export function isSecretKey(key: string): boolean {
  if (SECRET_PART.test(key)) return true;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z]+/)
    .map((w) => w.toLowerCase());
  return words.some((w) => SECRET_WORDS.has(w));
}

/** The schema itself, what its local `$ref` points to, and its union branches, flattened. */
function expand(
  schema: JsonSchema | undefined,
  root: JsonSchema,
  out: JsonSchema[] = [],
  depth = 0,
): JsonSchema[] {
  if (schema === undefined || depth > 16 || out.includes(schema)) return out;
  out.push(schema);
  expand(refTarget(schema.$ref, root), root, out, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const branches = schema[key];
    if (Array.isArray(branches)) for (const b of branches) expand(asSchema(b), root, out, depth + 1);
  }
  return out;
}

function marksSecret(schemas: ReadonlyArray<JsonSchema>): boolean {
  return schemas.some((s) => s.writeOnly === true || s.format === 'password' || s['x-secret'] === true);
}

function propertySchemas(schemas: ReadonlyArray<JsonSchema>, key: string, root: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const s of schemas) {
    const own = asSchema(s.properties);
    if (own !== undefined && Object.hasOwn(own, key)) expand(asSchema(own[key]), root, out);
    for (const [pattern, child] of Object.entries(asSchema(s.patternProperties) ?? {})) {
      let matches = false;
      try {
        matches = new RegExp(pattern, 'u').test(key);
      } catch {
        // An invalid pattern in the upstream's schema describes nothing.
      }
      if (matches) expand(asSchema(child), root, out);
    }
    expand(asSchema(s.additionalProperties), root, out);
  }
  return out;
}

function itemSchemas(schemas: ReadonlyArray<JsonSchema>, index: number, root: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const s of schemas) {
    const prefix = Array.isArray(s.prefixItems)
      ? s.prefixItems
      : Array.isArray(s.items)
        ? s.items
        : undefined;
    if (prefix !== undefined && index < prefix.length) expand(asSchema(prefix[index]), root, out);
    else expand(asSchema(s.items), root, out);
  }
  return out;
}

/** Every string (and number) in a secret value, for scrubbing. */
function collectSecret(value: unknown, into: Set<string>, depth = 0): void {
  if (typeof value === 'string') {
    if (value !== '') into.add(value);
  } else if (typeof value === 'number') {
    into.add(String(value));
  } else if (value !== null && typeof value === 'object' && depth < 64) {
    for (const v of Object.values(value)) collectSecret(v, into, depth + 1);
  }
}

/** Below the recorded depth: nothing is recorded, but secrets by name are still collected. */
function collectSecretsByName(value: unknown, into: Set<string>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth >= 64) return;
  for (const [key, v] of Object.entries(value)) {
    if (!Array.isArray(value) && isSecretKey(key)) collectSecret(v, into);
    else collectSecretsByName(v, into, depth + 1);
  }
}

export interface Redacted {
  /** The value with secrets replaced and long strings cut. */
  value: unknown;
  /** Every secret string found, to scrub from messages. */
  secrets: ReadonlySet<string>;
}

/** Redacts `args` by name and by the hints of `inputSchema` (see the file comment). */
export function redactArgs(args: unknown, inputSchema?: unknown): Redacted {
  const root = asSchema(inputSchema) ?? {};
  const secrets = new Set<string>();
  const walk = (value: unknown, schemas: ReadonlyArray<JsonSchema>, depth: number): unknown => {
    if (typeof value === 'string') {
      return value.length > MAX_STRING
        ? `${value.slice(0, MAX_STRING)}…[${value.length - MAX_STRING} more chars]`
        : value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) {
      collectSecretsByName(value, secrets);
      return '[…]';
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, itemSchemas(schemas, i, root), depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const child = propertySchemas(schemas, key, root);
      if (isSecretKey(key) || marksSecret(child)) {
        collectSecret(v, secrets);
        out[key] = REDACTED;
      } else {
        out[key] = walk(v, child, depth + 1);
      }
    }
    return out;
  };
  return { value: walk(args, expand(root, root), 0), secrets };
}

/** `text` with every occurrence of each secret replaced, longest first (one may contain another). */
export function scrubSecrets(text: string, secrets: ReadonlySet<string>): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(secret, REDACTED);
  }
  return out;
}
