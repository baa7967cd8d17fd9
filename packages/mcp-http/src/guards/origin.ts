/**
 * Origin validation. Spec (transports, "Security Warning"): servers MUST validate the Origin header
 * and answer 403 when it is present and invalid. Only exact configured origins pass, besides the
 * server's own: `null` (sandboxed iframes, file:// pages), browser extensions and pages on other
 * ports of this machine are all web content that must not drive a server running without a token.
 * A request without Origin does not come from a web page and is not refused for it.
 */

/**
 * The form origins are compared in: `URL.origin` for http(s) (lower case, default port dropped), the
 * text itself, lower-cased and without a trailing slash, for other schemes (`app://.`), whose
 * `URL.origin` is the opaque `null`. Undefined for `null` and for text that is not an origin.
 */
export function normalizeOrigin(origin: string): string | undefined {
  if (origin.trim().toLowerCase() === 'null') return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return origin.trim().toLowerCase().replace(/\/$/, '');
}

/** The allowed origins as a set; throws on `null` or text that is not an origin (a config mistake). */
export function originSet(origins: ReadonlyArray<string>): Set<string> {
  const set = new Set<string>();
  for (const origin of origins) {
    const normalized = normalizeOrigin(origin);
    if (normalized === undefined)
      throw new Error(`allowed origin '${origin}' is not an origin (never 'null')`);
    set.add(normalized);
  }
  return set;
}

/** `http://<name>:<port>` for every name the server answers to: the origins of its own pages. */
export function ownOrigins(hostnames: Iterable<string>, port: number): string[] {
  return [...hostnames].map((name) => `http://${name}:${port}`);
}

/** Why the request's Origin is refused, or undefined when it is absent or allowed. */
export function originProblem(header: string | undefined, allowed: ReadonlySet<string>): string | undefined {
  if (header === undefined) return undefined;
  const normalized = normalizeOrigin(header);
  if (normalized === undefined || !allowed.has(normalized)) return `Origin '${header}' is not allowed`;
  return undefined;
}
