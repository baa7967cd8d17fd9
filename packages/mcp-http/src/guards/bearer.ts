/**
 * Bearer tokens (RFC 6750). A server bound beyond loopback requires one; the gateway maps tokens to
 * grants. Who the caller is decides which 2025-era sessions and which 2026-era state it may reach.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendRpcError } from '../responses.js';

/** Who is calling, as decided by an authenticator. `id` binds sessions and stateless-era state to it. */
export interface Principal {
  id: string;
}

export type Authenticator<P extends Principal> = (
  token: string | undefined,
  req: IncomingMessage,
) => P | undefined | Promise<P | undefined>;

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), or undefined. */
export function bearerTokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1];
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** A sub-identity a trusted caller (a gateway) may name: printable, no spaces, bounded. */
const SUB_IDENTITY = /^[\x21-\x7e]{1,200}$/;

export interface TokenAuthenticatorOptions {
  /**
   * A header in which a caller holding a valid token names a sub-identity (a gateway in front names
   * the grant, or the agent's session, it forwards for). State of the stateless era is then kept per
   * token and sub-identity, so agents behind one gateway cannot reach each other's connections. Only
   * meaningful with tokens: without one, anybody could claim any identity.
   */
  identityHeader?: string;
}

/**
 * Accepts any of `tokens`; the principal id is derived from the token (a digest, never the token),
 * so each token is its own identity. Compares fixed-size digests in constant time.
 */
export function tokenAuthenticator(
  tokens: ReadonlyArray<string>,
  options: TokenAuthenticatorOptions = {},
): Authenticator<Principal> {
  if (tokens.length === 0) throw new Error('tokenAuthenticator needs at least one token');
  const known = tokens.map((token) => ({
    want: digest(token),
    id: `token:${digest(token).toString('hex').slice(0, 16)}`,
  }));
  const header = options.identityHeader?.toLowerCase();
  return (token, req) => {
    if (token === undefined) return undefined;
    const got = digest(token);
    let id: string | undefined;
    // Every entry is compared, so the time taken does not say which token matched.
    for (const entry of known) if (timingSafeEqual(got, entry.want)) id = entry.id;
    if (id === undefined) return undefined;
    if (header === undefined) return { id };
    const value = req.headers[header];
    if (value === undefined) return { id };
    if (typeof value !== 'string' || !SUB_IDENTITY.test(value)) return undefined;
    return { id: `${id}/${value}` };
  };
}

/** One token, one identity: the common case of `--auth-token`. */
export function bearerTokenAuthenticator(expected: string): Authenticator<Principal> {
  return tokenAuthenticator([expected]);
}

/**
 * 401 with the challenge RFC 6750 §3 describes: a bare `Bearer` when no token was sent, and
 * `error="invalid_token"` when one was, so that OAuth-capable clients (mcp-remote, the Inspector)
 * report a bad token at once instead of starting a login that can never succeed.
 */
export function sendUnauthorized(res: ServerResponse, tokenPresented: boolean): void {
  const challenge = tokenPresented
    ? 'Bearer error="invalid_token", error_description="the bearer token is not valid here"'
    : 'Bearer';
  const message = tokenPresented
    ? 'Unauthorized: the bearer token is not valid here'
    : 'Unauthorized: a valid bearer token is required';
  sendRpcError(res, 401, -32001, message, { 'www-authenticate': challenge });
}

/**
 * OAuth discovery documents (RFC 9728, RFC 8414, OpenID). Bastion configures no OAuth, so these
 * answer 404 before authentication: a client that probes them learns at once that only a static
 * bearer token works, instead of reading a 401 as "log in first".
 */
export function isOAuthDiscoveryPath(path: string): boolean {
  return (
    path.startsWith('/.well-known/oauth-protected-resource') ||
    path.startsWith('/.well-known/oauth-authorization-server') ||
    path.startsWith('/.well-known/openid-configuration')
  );
}
