/**
 * Host header validation: the DNS-rebinding guard (spec, transports, "Security Warning"; node:http
 * has none). A page on `evil.example` that re-resolves its name to 127.0.0.1 still sends
 * `Host: evil.example`, so only the names this server answers to pass.
 *
 * The header is parsed strictly: `name[:port]` or `[ipv6][:port]` and nothing else. A lenient split
 * on ':' or ']' took `[::1]evil` and `[::1].evil.com` for loopback.
 */
import { isIPv6 } from 'node:net';

export interface ParsedHost {
  /** Lower case; an IPv6 literal keeps its brackets (`[::1]`), as it appears in a URL. */
  hostname: string;
  port: number | undefined;
}

// A registered name (letters, digits, '-', '.') or a bracketed IPv6 literal, then an optional port.
const HOST_PATTERN = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?))(?::(\d{1,5}))?$/;

/** The hostname and port of a Host header value, or undefined when it is not exactly that. */
export function parseHostHeader(value: string): ParsedHost | undefined {
  const match = HOST_PATTERN.exec(value);
  if (match === null) return undefined;
  const [, v6, name, portText] = match;
  if (v6 !== undefined && !isIPv6(v6)) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65_535) return undefined;
  const hostname = v6 !== undefined ? `[${v6.toLowerCase()}]` : (name ?? '').toLowerCase();
  return { hostname, port };
}

/** The form names are kept in: lower case, IPv6 literals in brackets (`::1` -> `[::1]`). */
export function normalizeHostname(name: string): string {
  const lower = name.trim().toLowerCase();
  return isIPv6(lower) ? `[${lower}]` : lower;
}

export const LOOPBACK_HOSTNAMES: ReadonlyArray<string> = ['localhost', '127.0.0.1', '[::1]'];

/** Why the request's Host is refused, or undefined when it names one of `allowed` (normalised names). */
export function hostProblem(header: string | undefined, allowed: ReadonlySet<string>): string | undefined {
  if (header === undefined) return 'a Host header is required';
  const parsed = parseHostHeader(header);
  if (parsed === undefined || !allowed.has(parsed.hostname)) return `Host '${header}' is not allowed`;
  return undefined;
}
