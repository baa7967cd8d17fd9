/**
 * Argument values for audit rows, with secrets taken out. A key that looks like a secret (password,
 * passphrase, secret, token, key, authorization, in any case and as part of a longer name such as
 * `privateKey`) has its value replaced, as have the fields the upstream's own inputSchema marks secret.
 * Long strings are cut so that one large payload cannot swell the log.
 */
export const REDACTED = '[REDACTED]';
const SECRET_KEY = /password|passphrase|secret|token|key|authorization/i;
const MAX_STRING = 2048;
const MAX_DEPTH = 8;

export function isSecretKey(key: string, extra: ReadonlySet<string> = new Set()): boolean {
  return SECRET_KEY.test(key) || extra.has(key);
}

export function redact(value: unknown, extra: ReadonlySet<string> = new Set(), depth = 0): unknown {
  if (typeof value === 'string') {
    return value.length > MAX_STRING
      ? `${value.slice(0, MAX_STRING)}…[${value.length - MAX_STRING} more chars]`
      : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.map((v) => redact(v, extra, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = isSecretKey(key, extra) ? REDACTED : redact(v, extra, depth + 1);
  }
  return out;
}

/**
 * Property names an inputSchema marks secret: `writeOnly: true` (JSON Schema's annotation for values
 * that are sent but never shown) or `format: "password"` (OpenAPI's). Collected at any depth.
 */
export function secretFieldsOf(inputSchema: unknown): Set<string> {
  const found = new Set<string>();
  const visit = (schema: unknown, depth: number) => {
    if (schema === null || typeof schema !== 'object' || depth > 16) return;
    if (Array.isArray(schema)) {
      for (const s of schema) visit(s, depth + 1);
      return;
    }
    const s = schema as Record<string, unknown>;
    const properties = s.properties;
    if (properties !== null && typeof properties === 'object') {
      for (const [name, prop] of Object.entries(properties as Record<string, unknown>)) {
        const p = prop as Record<string, unknown> | null;
        if (p !== null && typeof p === 'object' && (p.writeOnly === true || p.format === 'password')) {
          found.add(name);
        }
      }
    }
    for (const value of Object.values(s)) visit(value, depth + 1);
  };
  visit(inputSchema, 0);
  return found;
}
